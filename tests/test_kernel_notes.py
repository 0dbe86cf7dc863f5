"""Every citation of bench/KERNEL_NOTES.md in the Numba backend's comments names one of its
headings, so a renamed or removed section cannot leave a comment pointing nowhere."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "bench" / "KERNEL_NOTES.md"
# "(bench/KERNEL_NOTES.md, "Heading")", the heading possibly wrapped over comment lines
CITATION = re.compile(r'KERNEL_NOTES\.md,\s*"([^"]+)"')


def _citations():
    for path in sorted((ROOT / "nongate_np" / "kernels" / "cpu").glob("*.py")):
        text = re.sub(r"\n\s*(#:?\s*)?", " ", path.read_text(encoding="utf-8"))
        for heading in CITATION.findall(text):
            yield path.name, heading


def test_every_cited_heading_exists():
    headings = {line[3:].strip() for line in NOTES.read_text(encoding="utf-8").splitlines()
                if line.startswith("## ")}
    cited = list(_citations())
    assert len(cited) >= 10, f"expected the kernels to cite the notes, found {cited}"
    missing = [(name, h) for name, h in cited if h not in headings]
    assert not missing, f"cited headings absent from {NOTES.name}: {missing}"
