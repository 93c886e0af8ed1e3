"""A small ESC/POS decoder for tests: bytes in, printed lines, QR codes, images and cuts out.

It knows only the commands a ticket may use and raises on anything else, so a stray byte in
the renderer fails the tests instead of printing garbage on paper.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from escpos.capabilities import CAPABILITIES


class DecodeError(ValueError):
    pass


@dataclass(frozen=True)
class Line:
    text: str
    width: int  # character size multipliers at the end of the line
    height: int
    bold: bool
    align: int  # 0 left, 1 center, 2 right


@dataclass(frozen=True)
class QRCode:
    payload: bytes
    module: int
    ec: int
    align: int


@dataclass(frozen=True)
class Raster:
    width: int  # dots
    height: int
    data: bytes  # rows of width/8 bytes, MSB first, 1 = black


@dataclass(frozen=True)
class CutMark:
    partial: bool


@dataclass
class Decoded:
    items: list[Line | QRCode | Raster | CutMark] = field(default_factory=list)
    codepages: list[str] = field(default_factory=list)
    inits: int = 0
    status_queries: list[int] = field(default_factory=list)

    @property
    def lines(self) -> list[Line]:
        return [i for i in self.items if isinstance(i, Line)]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def decode(data: bytes, profile: str = "default") -> Decoded:
    """Decode a whole job; text bytes are read in the code page most recently selected."""
    pages = CAPABILITIES["profiles"][profile]["codePages"]
    out = Decoded()
    codec = "cp437"  # ESC @ selects page 0
    width = height = 1
    bold = False
    align = 0
    buf = bytearray()
    qr_data = b""
    qr_module = 3
    qr_ec = 0
    i = 0

    def need(n: int) -> bytes:
        if i + n > len(data):
            raise DecodeError(f"truncated command at {i}")
        return data[i : i + n]

    while i < len(data):
        b = data[i]
        if b == 0x0A:
            out.items.append(Line(buf.decode(codec), width, height, bold, align))
            buf.clear()
            i += 1
        elif b >= 0x20:
            buf.append(b)
            i += 1
        elif b == 0x1B:  # ESC
            cmd = need(2)[1]
            if cmd == ord("@"):
                out.inits += 1
                codec, width, height, bold, align = "cp437", 1, 1, False, 0
                i += 2
                continue
            arg = need(3)[2]
            if cmd == ord("t"):
                name = pages[str(arg)]
                out.codepages.append(name)
                codec = CAPABILITIES["encodings"][name]["python_encode"]
            elif cmd == ord("a"):
                align = arg
            elif cmd == ord("E"):
                bold = bool(arg & 1)
            elif cmd == ord("!"):
                width = 2 if arg & 0x20 else 1
                height = 2 if arg & 0x10 else 1
                bold = bool(arg & 0x08)
            elif cmd == ord("d"):
                out.items.extend(Line("", width, height, bold, align) for _ in range(arg))
            elif cmd == ord("M"):
                pass
            else:
                raise DecodeError(f"unknown ESC {chr(cmd)!r} at {i}")
            i += 3
        elif b == 0x1D:  # GS
            cmd = need(2)[1]
            if cmd == ord("!"):
                arg = need(3)[2]
                width, height = (arg >> 4) + 1, (arg & 0x0F) + 1
                i += 3
            elif cmd == ord("V"):
                mode = need(3)[2]
                out.items.append(CutMark(partial=mode in (1, 49, 66)))
                i += 4 if mode in (65, 66) else 3
            elif cmd == ord("("):
                head = need(5)
                if head[2] != ord("k"):
                    raise DecodeError(f"unknown GS ( {chr(head[2])!r} at {i}")
                size = head[3] + 256 * head[4]
                body = need(5 + size)[5:]
                cn, fn = body[0], body[1]
                if cn != ord("1"):
                    raise DecodeError(f"2D code type {cn} is not QR")
                if fn == ord("C"):
                    qr_module = body[2]
                elif fn == ord("E"):
                    qr_ec = body[2] - 48
                elif fn == ord("P"):
                    qr_data = body[3:]
                elif fn == ord("Q"):
                    out.items.append(QRCode(qr_data, qr_module, qr_ec, align))
                i += 5 + size
            elif cmd == ord("v"):
                head = need(8)
                if head[2] != ord("0"):
                    raise DecodeError(f"unknown GS v {head[2]} at {i}")
                x_bytes = head[4] + 256 * head[5]
                rows = head[6] + 256 * head[7]
                pixels = need(8 + x_bytes * rows)[8:]
                out.items.append(Raster(x_bytes * 8, rows, bytes(pixels)))
                i += 8 + x_bytes * rows
            else:
                raise DecodeError(f"unknown GS {chr(cmd)!r} at {i}")
        elif b == 0x10 and need(2)[1] == 0x04:  # DLE EOT n: a real-time status query
            out.status_queries.append(need(3)[2])
            i += 3
        else:
            raise DecodeError(f"control byte {b:#04x} at {i}")
    if buf:
        out.items.append(Line(buf.decode(codec), width, height, bold, align))
    return out
