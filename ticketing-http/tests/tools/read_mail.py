"""Reads the messages of a Maildir folder (from smtp_sink.py) with Python's own email parser and
prints them as JSON: headers, the text and HTML parts, and each attachment written to OUT.
With OUT given as `-`, only the envelope's recipients and the Message-ID of each.

    python3 read_mail.py FOLDER OUT
"""

import json
import mailbox
import os
import sys
from email import policy
from email.parser import BytesParser


def main():
    folder, out = sys.argv[1], sys.argv[2]
    messages = []
    box = mailbox.Maildir(folder, create=False)
    if out == "-":
        for key in sorted(box.keys()):
            with box.get_file(key) as f:
                msg = BytesParser(policy=policy.default).parse(f, headersonly=True)
            messages.append({"envelope_to": msg["X-Envelope-To"], "message_id": msg["Message-ID"]})
        json.dump(messages, sys.stdout)
        return
    os.makedirs(out, exist_ok=True)
    for key in sorted(box.keys()):
        with box.get_file(key) as f:
            msg = BytesParser(policy=policy.default).parse(f)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        attachments = []
        for n, part in enumerate(msg.iter_attachments()):
            path = os.path.join(out, f"{key}-{n}-{part.get_filename()}")
            with open(path, "wb") as w:
                w.write(part.get_content())
            attachments.append({"filename": part.get_filename(), "type": part.get_content_type(), "path": path})
        messages.append({
            "envelope_to": msg["X-Envelope-To"],
            "from": msg["From"],
            "to": msg["To"],
            "subject": msg["Subject"],
            "message_id": msg["Message-ID"],
            "type": msg.get_content_type(),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
            "attachments": attachments,
        })
    json.dump(messages, sys.stdout)


if __name__ == "__main__":
    main()
