"""The message builder's output as Python's email package reads it: every message built
from fuzz/corpus/message_builder (by tests/tools/message_dump, which splits the fields as
the message_builder fuzz target does) parses with email.policy.default, with no defect in
any header, and its Subject, From and To decode to what was given.

Only the standard library of /usr/bin/python3 is used. MESSAGE_DUMP names the program
(tests/CMakeLists.txt sets it); else build/tests/message_dump.
"""

import email
import email.policy
import glob
import json
import os
import re
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
MESSAGE_DUMP = os.environ.get("MESSAGE_DUMP") or os.path.join(REPO, "build", "tests", "message_dump")
CORPUS = os.path.join(REPO, "fuzz", "corpus", "message_builder")


def squash(text):
    """Text without any white space: folding and encoded words may move spaces."""
    return "".join(text.split())


def one_line(text):
    """What the builder does to a header value first: control characters become spaces."""
    return "".join(" " if (ord(c) < 0x20 and c != "\t") or c == "\x7f" else c for c in text)


def address_in(value):
    """The address of 'Name <addr>', or the value itself (src/core/address.cpp)."""
    lt = value.rfind("<")
    if lt >= 0:
        gt = value.find(">", lt)
        if gt >= 0:
            return value[lt + 1:gt]
    return value.strip()


def display_of(value):
    lt = value.rfind("<")
    display = value[:lt].strip(" \t") if lt >= 0 and value.find(">", lt) >= 0 else ""
    if len(display) >= 2 and display[0] == '"' and display[-1] == '"':
        display = display[1:-1]
    return display


def comparable(text):
    """Values written as they are but read differently by design: text that already
    looks like an encoded word ("=?...?=") is decoded by the reader."""
    return "\ufffd" not in text and "=?" not in text


class BuilderAndPythonEmail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not (os.path.isfile(MESSAGE_DUMP) and os.access(MESSAGE_DUMP, os.X_OK)):
            raise RuntimeError("message_dump not found at %s: set MESSAGE_DUMP or build build/tests/message_dump"
                               % MESSAGE_DUMP)
        cls.inputs = sorted(glob.glob(os.path.join(CORPUS, "*")))
        if not cls.inputs:
            raise RuntimeError("no inputs in %s" % CORPUS)
        cls.tmp = tempfile.TemporaryDirectory(prefix="haineko-builder-")
        cls.dump = subprocess.run([MESSAGE_DUMP, cls.tmp.name, *cls.inputs], capture_output=True, text=True,
                                  timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def messages(self):
        for path in self.inputs:
            name = os.path.basename(path)
            with open(os.path.join(self.tmp.name, name + ".eml"), "rb") as f:
                raw = f.read()
            with open(os.path.join(self.tmp.name, name + ".json"), encoding="utf-8") as f:
                given = json.load(f)
            yield name, raw, given, email.message_from_bytes(raw, policy=email.policy.default)

    def test_dump_keeps_the_rules(self):
        # message_dump checks each message against fuzz/message_check.hpp as well.
        self.assertEqual(self.dump.returncode, 0, self.dump.stdout + self.dump.stderr)

    def test_every_input_gives_a_message(self):
        self.assertEqual(self.dump.returncode in (0, 1), True, self.dump.stderr)
        self.assertEqual(len(list(self.messages())), len(self.inputs))

    def test_no_defects(self):
        for name, raw, given, msg in self.messages():
            with self.subTest(input=name):
                self.assertEqual(msg.defects, [], name)
                for field in msg.keys():
                    if not self.address_given_as_one(field, given):
                        continue
                    header = msg[field]
                    self.assertEqual(list(getattr(header, "defects", [])), [], "%s: %s: %r" % (name, field, header))
                # The header section is what the builder wrote: parsing found every field.
                head = raw.split(b"\r\n\r\n", 1)[0]
                starts = [l for l in head.split(b"\r\n") if l and l[:1] not in (b" ", b"\t")]
                self.assertEqual(len(starts), len(msg.keys()), name)

    @staticmethod
    def address_given_as_one(field, given):
        """False for a From or Reply-To whose given value holds no addr-spec ("b"): the
        checks let such a header value through as the original did, and the builder writes
        it as given, so the reader's complaint is about the value, not the builder."""
        key = {"from": "from", "reply-to": "replyto"}.get(field.lower())
        if key is None or not given[key]:
            return True
        address = address_in(one_line(given[key]))
        return "@" in address and not address.startswith("@") and not address.endswith("@")

    def test_subject_decodes(self):
        for name, raw, given, msg in self.messages():
            with self.subTest(input=name):
                subject = str(msg["Subject"])
                if comparable(given["subject"]):
                    self.assertEqual(squash(subject), squash(one_line(given["subject"])), name)

    def test_from_decodes(self):
        for name, raw, given, msg in self.messages():
            with self.subTest(input=name):
                addresses = msg["From"].addresses
                self.assertEqual(len(addresses), 1, name)
                written = one_line(given["from"]) or given["envelope_mail"]
                if not comparable(written):
                    continue
                self.assertEqual(addresses[0].addr_spec, address_in(written), name)
                self.assertEqual(squash(addresses[0].display_name), squash(display_of(written)), name)

    def test_to_decodes(self):
        for name, raw, given, msg in self.messages():
            with self.subTest(input=name):
                addresses = msg["To"].addresses
                self.assertEqual(len(addresses), 1, name)
                self.assertEqual(addresses[0].addr_spec, given["envelope_rcpt"], name)

    def test_body_decodes(self):
        for name, raw, given, msg in self.messages():
            with self.subTest(input=name):
                self.assertEqual(msg.get_content_type(), "text/plain")
                self.assertEqual(msg["Content-Transfer-Encoding"], given["transfer_encoding"])
                if not comparable(given["body"]):
                    continue
                body = msg.get_content()
                want = re.sub(r"\r\n|\r", "\n", given["body"])
                if not want.endswith("\n"):
                    want += "\n"
                self.assertEqual(body.replace("\r\n", "\n"), want, name)


if __name__ == "__main__":
    unittest.main()
