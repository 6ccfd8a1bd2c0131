"""Build the pre-built sound index of the bundled demo library (shipped so the first start need not index).

    .venv/bin/python scripts/build_demo_index.py            # rebuild if the model or the library changed
    .venv/bin/python scripts/build_demo_index.py --force    # rebuild anyway

Indexes ``resources/demo/library`` with ``resources/models/default.pt`` using the real indexer (in
a temporary folder), then writes ``resources/demo/index/`` (manifest.json + vectors.npy: relative
paths, content hashes, float16 vectors, the model id). Run it after replacing the default model or
changing the demo library; tests/engine/library/test_prebuilt.py fails until you do.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.library.indexer import index_library  # noqa: E402
from engine.library.prebuilt import MANIFEST, VECTORS, export_prebuilt, stale_reasons  # noqa: E402
from engine.models import AVModel  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--library", type=Path, default=ROOT / "resources" / "demo" / "library")
    p.add_argument("--model", type=Path, default=ROOT / "resources" / "models" / "default.pt")
    p.add_argument("--out", type=Path, default=ROOT / "resources" / "demo" / "index")
    p.add_argument("--workers", type=int, default=2, help="decoding processes (0: decode in this process)")
    p.add_argument("--force", action="store_true", help="rebuild even if the artefact matches the model and library")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    t0 = time.perf_counter()
    model = AVModel.load(args.model)
    reasons = stale_reasons(args.out, args.library, model.model_id)
    if not reasons and not args.force:
        print(f"{args.out} is up to date (model {model.model_id}, library {args.library}); --force rebuilds it")
        return 0
    print(f"building {args.out}: " + "; ".join(reasons or ["--force"]))
    with tempfile.TemporaryDirectory(prefix="foley-demo-index-") as tmp:
        report = index_library([args.library], model, Path(tmp) / "index", workers=args.workers, progress=True)
        if report.skipped:
            print(f"warning: {len(report.skipped)} files not indexed (the first start will retry them):")
            for path, reason in report.skipped[:20]:
                print(f"  {path}: {reason}")
        built = export_prebuilt(Path(tmp) / "index", args.library, args.out)
    sizes = {name: (args.out / name).stat().st_size for name in (MANIFEST, VECTORS)}
    print(f"wrote {args.out}: {len(built.files)} files, {len(built.vectors)} segments, model {built.model_id}, "
          f"{sum(sizes.values()) / 1e6:.2f} MB ({', '.join(f'{n} {s / 1e6:.2f} MB' for n, s in sizes.items())}) "
          f"in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
