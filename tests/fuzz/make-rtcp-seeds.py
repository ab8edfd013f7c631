#!/usr/bin/env python3
"""Writes the seed corpus of fuzz-rtcp-feedback (tests/fuzz/corpus/rtcp-feedback/): RTCP packets
as Chrome sends them on a subscription leg, made from the feedback traces of
tests/unit/sfu/traces (format in sfu/sfu-bwe.h): transport-cc feedback (RTPFB FMT 15,
draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1) with the encoder choices libwebrtc
makes (run length chunks for long runs, else one-bit or two-bit status vectors), REMB, and a
receiver report compounded with REMB or transport-cc. Run from the repository's root; the output
is deterministic."""
import os
import struct

TRACES = "tests/unit/sfu/traces"
OUT = "tests/fuzz/corpus/rtcp-feedback"
SENDER, MEDIA = 0x5A3C9E01, 0x6B1F0D22


def rtcp(fmt, pt, body):
    assert len(body) % 4 == 0
    return struct.pack("!BBH", 0x80 | fmt, pt, len(body) // 4) + body


def chunks(sym):
    out, i = [], 0
    while i < len(sym):
        run = 1
        while i + run < len(sym) and sym[i + run] == sym[i] and run < 0x1FFF:
            run += 1
        if run >= 14:
            out.append(sym[i] << 13 | run)
            i += run
        elif all(s < 2 for s in sym[i:i + 14]):
            part = (sym[i:i + 14] + [0] * 14)[:14]
            out.append(0x8000 | sum(s << (13 - k) for k, s in enumerate(part)))
            i += 14
        else:
            part = (sym[i:i + 7] + [0] * 7)[:7]
            out.append(0xC000 | sum(s << (12 - 2 * k) for k, s in enumerate(part)))
            i += 7
    return out


def twcc(base, arrivals, fb_count):
    """arrivals: one per seq from base, microseconds or None (lost)."""
    first = next(a for a in arrivals if a is not None)
    ref = first // 64000
    t = ref * 64000
    sym, deltas = [], b""
    for a in arrivals:
        if a is None:
            sym.append(0)
            continue
        d = round((a - t) / 250)
        t += d * 250
        if 0 <= d <= 255:
            sym.append(1)
            deltas += struct.pack("!B", d)
        else:
            sym.append(2)
            deltas += struct.pack("!h", d)
    fci = struct.pack("!HHI", base, len(arrivals), (ref & 0xFFFFFF) << 8 | fb_count & 0xFF)
    fci += b"".join(struct.pack("!H", c) for c in chunks(sym)) + deltas
    fci += b"\0" * (-len(fci) % 4)
    return rtcp(15, 205, struct.pack("!II", SENDER, MEDIA) + fci)


def remb(bps, ssrcs):
    exp = 0
    while bps >> exp > 0x3FFFF:
        exp += 1
    m = bps >> exp
    fci = b"REMB" + struct.pack("!BBH", len(ssrcs), exp << 2 | m >> 16, m & 0xFFFF)
    fci += b"".join(struct.pack("!I", s) for s in ssrcs)
    return rtcp(15, 206, struct.pack("!II", SENDER, 0) + fci)


def receiver_report():
    block = struct.pack("!IIIIII", MEDIA, 0x02000011, 0x0000FA10, 0x00000020, 0x9B3C1200, 0x00004000)
    return rtcp(1, 201, struct.pack("!I", SENDER) + block)


def reports(path):
    by_no = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        no, seq, _send, arr, _size = (int(x) for x in line.split())
        by_no.setdefault(no, []).append((seq, None if arr < 0 else arr))
    for no in sorted(by_no):
        pkts = by_no[no]
        base = pkts[0][0]
        arrivals = {}
        for seq, a in pkts:
            arrivals[(seq - base) & 0xFFFF] = a
        n = max(arrivals) + 1
        yield no, base, [arrivals.get(i) for i in range(n)]


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in sorted(os.listdir(TRACES)):
        if not name.endswith(".trace"):
            continue
        stem = name[:-6]
        reps = [r for r in reports(os.path.join(TRACES, name)) if any(a is not None for a in r[2])]
        # one report alone, and a run of consecutive reports (one compound packet each in
        # reality; concatenated here so that the estimator sees a session)
        no, base, arr = reps[len(reps) // 2]
        write(f"{stem}-one.rtcp", twcc(base, arr, no))
        start = len(reps) // 3
        write(f"{stem}-run.rtcp", b"".join(twcc(b, a, n) for n, b, a in reps[start:start + 24]))
        # a receiver report (its round trip goes to the estimator) before the reports
        write(f"{stem}-rr-run.rtcp",
              receiver_report() + b"".join(twcc(b, a, n) for n, b, a in reps[start:start + 8]))
    write("remb-1500k.rtcp", remb(1_500_000, [MEDIA]))
    write("remb-two-ssrc-80k.rtcp", remb(80_000, [MEDIA, MEDIA + 1]))
    write("rr-remb-compound.rtcp", receiver_report() + remb(640_000, [MEDIA]))


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
