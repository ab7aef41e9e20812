"""A real SMTP server for the tests: aiosmtpd (Debian's python3-aiosmtpd) on loopback.

Each message it accepts is written to a Maildir folder as received, after an
`X-Envelope-To` line naming the envelope's recipients. With `--refuse N` it answers the
first N messages `451` (try again later), as a busy or greylisting server does.

    python3 smtp_sink.py PORT FOLDER [--refuse N]

It prints `ready` once it listens, and stops when its standard input closes.
"""

import argparse
import mailbox
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder, refuse):
        self.box = mailbox.Maildir(folder, create=True)
        self.refuse = refuse

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        head = "X-Envelope-To: " + ", ".join(envelope.rcpt_tos) + "\r\n"
        self.box.add(head.encode() + envelope.original_content)
        return "250 2.0.0 Kept"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("folder")
    parser.add_argument("--refuse", type=int, default=0)
    args = parser.parse_args()
    controller = Controller(Sink(args.folder, args.refuse), hostname="127.0.0.1", port=args.port)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
