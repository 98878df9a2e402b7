#!/usr/bin/env python3
"""Relax GOT-relative references in an x86-64 relocatable object, in place, the way ld
relaxes R_X86_64_GOTPCRELX for a non-PIC link -- for an object that goes into a kernel
module, whose loader cannot apply R_X86_64_GOTPCREL*.

Why it is needed: on x86_64-unknown-linux-gnu rustc compiles with -Zplt=no, which sets
the LLVM module flag RtLibUseGOT; the precompiled `core` carries it in its bitcode and fat
LTO merges it into the final module, so libcalls LLVM emits itself (memset, memcpy) are
called through the GOT even with -Crelocation-model=static. Stable rustc cannot turn that
off without rebuilding `core` (no rust-src here).

Rewrites, for every GOTPCREL / GOTPCRELX / REX_GOTPCRELX relocation in an executable
section:
  ff 15 <disp32>           call *sym@GOTPCREL(%rip)  ->  67 e8 <rel32>  addr32 call sym  (PLT32)
  ff 25 <disp32>           jmp  *sym@GOTPCREL(%rip)  ->  e9 <rel32> 90  jmp sym; nop     (PLT32)
  REX.W 8b <modrm> <disp>  mov sym@GOTPCREL(%rip),%r ->  REX.W c7 <modrm> <imm32>  mov $sym,%r
                                                         (R_X86_64_32S, addend + 4: code
                                                         model "kernel" addresses)
Anything else is left alone (scripts/check-kernel-object then refuses the object).
Prints one line per rewrite on stderr.

usage: relax-gotpcrel.py OBJ
"""
import struct
import sys

R_X86_64_PC32 = 2
R_X86_64_GOTPCREL = 9
R_X86_64_32S = 11
R_X86_64_PLT32 = 4
R_X86_64_GOTPCRELX = 41
R_X86_64_REX_GOTPCRELX = 42
GOT_TYPES = {R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX}
SHT_SYMTAB, SHT_RELA = 2, 4
SHF_EXECINSTR = 0x4


def die(msg):
    print(f"[relax-gotpcrel] error: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        die("usage: relax-gotpcrel.py OBJ")
    path = sys.argv[1]
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        die(f"{path}: not a little-endian ELF64 file")
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    if e_type != 1 or e_machine != 62:
        die(f"{path}: not an x86-64 relocatable object")
    e_shoff, = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    sections = []
    for i in range(e_shnum):
        off = e_shoff + i * e_shentsize
        (name, sh_type, flags, _addr, sh_offset, size, link, info, _align,
         entsize) = struct.unpack_from("<IIQQQQIIQQ", data, off)
        sections.append(dict(name=name, type=sh_type, flags=flags, offset=sh_offset,
                             size=size, link=link, info=info, entsize=entsize))
    shstr = sections[e_shstrndx]

    def cstr(base, idx):
        end = data.index(b"\0", base + idx)
        return data[base + idx:end].decode()

    rewrites = 0
    for sec in sections:
        if sec["type"] != SHT_RELA:
            continue
        target = sections[sec["info"]]
        if not target["flags"] & SHF_EXECINSTR:
            continue
        symtab = sections[sec["link"]]
        strtab = sections[symtab["link"]]
        code = target["offset"]
        for k in range(sec["size"] // 24):
            roff = sec["offset"] + 24 * k
            r_offset, r_info, r_addend = struct.unpack_from("<QQq", data, roff)
            rtype, rsym = r_info & 0xFFFFFFFF, r_info >> 32
            if rtype not in GOT_TYPES:
                continue
            st_name, = struct.unpack_from("<I", data, symtab["offset"] + 24 * rsym)
            sym = cstr(strtab["offset"], st_name) if st_name else f"#{rsym}"
            at = code + r_offset
            where = f"{cstr(shstr['offset'], target['name'])}+{r_offset:#x}"
            if r_offset >= 2 and data[at - 2:at] == b"\xff\x15":
                data[at - 2:at] = b"\x67\xe8"
                new_type, new_offset, new_addend, what = R_X86_64_PLT32, r_offset, r_addend, "call"
            elif r_offset >= 2 and data[at - 2:at] == b"\xff\x25" and r_offset + 4 <= target["size"]:
                data[at - 2] = 0xE9
                data[at - 1:at + 3] = b"\0\0\0\0"
                data[at + 3] = 0x90
                new_type, new_offset, new_addend, what = R_X86_64_PLT32, r_offset - 1, r_addend, "jmp"
            elif (r_offset >= 3 and data[at - 2] == 0x8B and (data[at - 1] & 0xC7) == 0x05
                  and (data[at - 3] & 0xF8) == 0x48):
                rex, modrm = data[at - 3], data[at - 1]
                reg = (modrm >> 3) & 7
                data[at - 3] = 0x48 | (1 if rex & 0x4 else 0)  # REX.R -> REX.B
                data[at - 2] = 0xC7
                data[at - 1] = 0xC0 | reg
                new_type, new_offset, new_addend, what = R_X86_64_32S, r_offset, r_addend + 4, "mov"
            else:
                print(f"[relax-gotpcrel] {where}: GOT reference to {sym} in an unknown "
                      f"instruction form, left alone", file=sys.stderr)
                continue
            struct.pack_into("<QQq", data, roff, new_offset,
                             (rsym << 32) | new_type, new_addend)
            print(f"[relax-gotpcrel] {where}: {what} through the GOT to {sym} made direct",
                  file=sys.stderr)
            rewrites += 1

    if rewrites:
        with open(path, "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
