#!/usr/bin/env python3
"""Turns a binary file into a C source defining `const uint8_t NAME[]` and `NAME_size`.

Used by the build to embed the built-in guest in the ringvm binary.
"""
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: embed.py INPUT OUTPUT SYMBOL")
    src, dst, name = sys.argv[1:]
    data = open(src, "rb").read()
    with open(dst, "w") as out:
        out.write("/* Generated from %s by scripts/embed.py; do not edit. */\n" % src.split("/")[-1])
        out.write("#include <stddef.h>\n#include <stdint.h>\n\n")
        out.write("const uint8_t %s[] __attribute__((aligned(16))) = {\n" % name)
        for i in range(0, len(data), 16):
            out.write("\t" + ", ".join("0x%02x" % b for b in data[i:i + 16]) + ",\n")
        out.write("};\n\nconst size_t %s_size = %d;\n" % (name, len(data)))


if __name__ == "__main__":
    main()
