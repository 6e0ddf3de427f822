"""Seed inputs for the EDF reader fuzz target: small EDF/EDF+/BDF/BDF+ files written byte by byte,
covering the header variants the reader handles (plain, +C, +D, 24-bit, several rates, annotation
signals, the BCI2000 prefilter quirk, Latin-1 units). Usage: make_corpus.py OUT_DIR"""
import struct
import sys
from pathlib import Path


def field(value, width):
    return str(value).encode("latin-1").ljust(width)[:width]


def edf_bytes(signals, records=2, duration=1, bdf=False, reserved="", annotation=None):
    """signals: list of (label, unit, samples_per_record, pmin, pmax, dmin, dmax, prefilter)."""
    sigs = list(signals)
    if annotation is not None:
        sigs.append(("BDF Annotations" if bdf else "EDF Annotations", "", 30, -1, 1, -8388608 if bdf else -32768,
                     8388607 if bdf else 32767, annotation))
    ns = len(sigs)
    head = (b"\xffBIOSEMI" if bdf else field("0", 8)) + field("X X X X", 80) + field("Startdate 01-JAN-1985 X X X", 80)
    head += field("01.01.85", 8) + field("00.00.00", 8) + field(256 * (ns + 1), 8) + field(reserved, 44)
    head += field(records, 8) + field(duration, 8) + field(ns, 4)
    columns = [[field(s[0], 16) for s in sigs], [field("", 80) for s in sigs], [field(s[1], 8) for s in sigs],
               [field(s[3], 8) for s in sigs], [field(s[4], 8) for s in sigs], [field(s[5], 8) for s in sigs],
               [field(s[6], 8) for s in sigs], [field(s[7], 80) for s in sigs], [field(s[2], 8) for s in sigs],
               [field("", 32) for s in sigs]]
    for column in columns:
        head += b"".join(column)
    data = b""
    for r in range(records):
        for i, s in enumerate(sigs):
            n = s[2]
            if annotation is not None and i == ns - 1:
                tal = f"+{r * duration}\x14\x14\x00".encode()
                data += tal.ljust(n * (3 if bdf else 2), b"\x00")
                continue
            for k in range(n):
                v = ((k * 37 + r * 11 + i * 5) % 200) - 100
                data += struct.pack("<i", v)[:3] if bdf else struct.pack("<h", v)
    return head + data


def eeg(label, rate, unit="uV", prefilter=""):
    return (label, unit, rate, -3276.8, 3276.7, -32768, 32767, prefilter)


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    two = [eeg("Fp1", 32), eeg("EEG Cz-REF", 16)]
    files = {
        "plain.edf": edf_bytes(two),
        "plus_c.edf": edf_bytes(two, reserved="EDF+C", annotation=""),
        "plus_d.edf": edf_bytes(two, reserved="EDF+D", annotation=""),
        "bci2000_prefilter.edf": edf_bytes([eeg("Fc5.", 20), eeg("Cz..", 20)], reserved="EDF+C", annotation="HP:0Hz LP:0Hz N:0Hz"),
        "latin1_unit.edf": edf_bytes([eeg("O1", 32, unit="\xb5V"), eeg("ECG", 32, unit="mV")]),
        "bdf.bdf": edf_bytes([("A1", "uV", 32, -262144, 262143, -8388608, 8388607, ""), ("Cz", "uV", 32, -262144, 262143, -8388608, 8388607, "")],
                             bdf=True, reserved="24BIT"),
        "bdf_plus.bdf": edf_bytes([("Fz", "uV", 25, -262144, 262143, -8388608, 8388607, "")], bdf=True, reserved="BDF+C", annotation=""),
        "half_second_records.edf": edf_bytes([eeg("Pz", 125), eeg("T3", 128)], records=4, duration=0.5),
    }
    for name, data in files.items():
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main()
