"""Peak memory of one streaming grid cell does not grow with the number of images.

A paper-profile rehearsal: a generated VOC-layout tree at 256 px, a torchvision LR-ASPP
(MobileNetV3, random init) as source and target, one BIM cell of 2 iterations with snapshots 1 and
2, run through ``segrepro.run.runner.run_grids`` exactly as ``segrepro run --profile paper`` does.
Each size runs in a fresh process; the script prints the peak resident memory (``ru_maxrss``; and the
CUDA peak where a GPU is present) at ``n_images`` 16 and 128 and their ratio (target: at most 1.2).

    python benchmarks/grid_memory.py            # both sizes, prints the table and the ratio
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

SIZES = (16, 128)
IMAGE = 256


def child(n: int, root: str) -> dict:
    import torch

    from segrepro.data.fixtures import make_fake_voc
    from segrepro.models.torchvision import build_torchvision
    from segrepro.run.grid import GridSpec
    from segrepro.run.profiles import get_profile
    from segrepro.run.runner import run_grids
    from segrepro.run.zoo import Zoo

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    voc = make_fake_voc(Path(root) / "voc", n=max(SIZES), size=(IMAGE, IMAGE))
    weights = Path(root) / "lraspp.pth"
    if not weights.is_file():
        torch.manual_seed(0)
        torch.save(build_torchvision("lraspp_mobilenet_v3_large", 21).net.state_dict(), weights)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    profile = get_profile("paper", data_root=str(voc), image_size=IMAGE, device=device, amp=device == "cuda",
                          channels_last=False, sources=("lraspp",), targets=("lraspp",), n_images=n, batch_size=8,
                          checkpoints={"lraspp": f"tv:lraspp_mobilenet_v3_large={weights}"})
    spec = GridSpec(study="memory", preset="voc", sources=("lraspp",), targets=("lraspp",), methods=("bim",),
                    steps=2, snapshots=(1, 2), n_images=n, batch_size=8)
    os.environ["SEGREPRO_RESULTS"] = str(Path(root) / f"results{n}")
    report = run_grids(profile, "memory", [spec], Zoo(profile, progress=False), progress=False)
    out = {"n_images": n, "computed": report.computed,
           "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device == "cuda":
        out["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main() -> None:
    if len(sys.argv) == 3:
        print(json.dumps(child(int(sys.argv[1]), sys.argv[2])))
        return
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for n in SIZES:
            done = subprocess.run([sys.executable, __file__, str(n), root], capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for r in rows:
        print(f"n_images={r['n_images']:4d}  peak RSS {r['rss_mib']:8.1f} MiB"
              + (f"  CUDA peak {r['cuda_peak_mib']:8.1f} MiB" if "cuda_peak_mib" in r else ""))
    print(f"ratio RSS {SIZES[1]}/{SIZES[0]} images: {rows[1]['rss_mib'] / rows[0]['rss_mib']:.3f} (target <= 1.2)")
    if "cuda_peak_mib" in rows[0]:
        print(f"ratio CUDA peak: {rows[1]['cuda_peak_mib'] / rows[0]['cuda_peak_mib']:.3f}")


if __name__ == "__main__":
    main()
