// The scanner's decoder thread (jsQR precedes this file): it receives camera frames as RGBA
// pixels and answers the QR text it finds, or null, with the frame's `turn` (the camera's start it
// belongs to) and `previous` (the time of the grab before it). One frame at a time: the page
// sends the next only once this one is answered, so decoding never queues behind the camera.
"use strict";
self.onmessage = function (message) {
  var frame = message.data;
  var found = self.jsQR(new Uint8ClampedArray(frame.pixels), frame.width, frame.height, {
    inversionAttempts: "dontInvert",
  });
  self.postMessage({ text: found ? found.data : null, turn: frame.turn, previous: frame.previous });
};
