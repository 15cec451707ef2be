#!/usr/bin/env python3
"""Run a command with its stderr on a pseudo-terminal and record what it drew.

usage: pty_screen.py [--cols N] RAW SCREEN -- CMD [ARG...]

stdin and stdout stay as they are; stderr is the slave side of a pty of
N columns (default 100).  RAW gets every byte written to the terminal;
SCREEN gets the terminal's final contents, one line each, as a small
emulator renders them: text, CR, LF, and the CSI sequences a progress view
uses (K erase line, J erase below, A cursor up, others ignored).  The exit
status is the command's.
"""
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

CSI = re.compile(rb"\x1b\[([0-9;?]*)([A-Za-z])")


def render(data):
    lines = [""]
    row = col = 0
    i = 0
    while i < len(data):
        m = CSI.match(data, i)
        if m:
            n = int(m.group(1)) if m.group(1).isdigit() else 1
            op = m.group(2)
            if op == b"K":
                lines[row] = lines[row][:col]
            elif op == b"J":
                lines[row] = lines[row][:col]
                del lines[row + 1:]
            elif op == b"A":
                row = max(0, row - n)
            i = m.end()
            continue
        c = data[i:i + 1]
        if c == b"\r":
            col = 0
        elif c == b"\n":
            row += 1
            while len(lines) <= row:
                lines.append("")
        elif c == b"\x1b":
            pass
        else:
            # one UTF-8 character
            j = i + 1
            while j < len(data) and (data[j] & 0xC0) == 0x80:
                j += 1
            ch = data[i:j].decode("utf-8", "replace")
            line = lines[row].ljust(col)
            lines[row] = line[:col] + ch + line[col + 1:]
            col += 1
            i = j
            continue
        i += 1
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def main():
    args = sys.argv[1:]
    cols = 100
    if args[:1] == ["--cols"]:
        cols = int(args[1])
        args = args[2:]
    raw_path, screen_path = args[0], args[1]
    cmd = args[3:] if args[2] == "--" else args[2:]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    proc = subprocess.Popen(cmd, stderr=slave)
    os.close(slave)
    raw = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer is gone
            break
        if not chunk:
            break
        raw += chunk
    rc = proc.wait()
    with open(raw_path, "wb") as f:
        f.write(raw)
    with open(screen_path, "w") as f:
        for line in render(raw):
            f.write(line.rstrip() + "\n")
    sys.exit(rc)


if __name__ == "__main__":
    main()
