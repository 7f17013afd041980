"""The claims table: each survey paper's claim against its ablation, on one small CamVid budget.

    python scripts/train_survey.py --plan claims --jobs 2 --threads 1   # train the runs (resumable)
    python scripts/claims_table.py                                      # collect records, rewrite docs/claims.md

Every run is a recipe run of ``scripts/train_survey.py``'s ``CLAIMS`` plan: 30 epochs at 256x192, trained
on drives 0001TP + 0016E5 and scored at its last epoch on the held-out drive 0006R0 (docs/protocol.md).
For each run that finished its schedule, this script copies ``metrics.jsonl`` and ``config.json`` from
``training_state/claims_NAME/`` to ``models/ablations/claims/`` (committed; the weights are not), and for
DeepLab-LargeFOV it scores the same last-epoch weights with and without the CRF (the CRF has no weights to
train, so one run answers that claim; the score is saved as ``deeplab_largefov_crf.eval.json``). The table
is then built from the committed records alone, so it regenerates without the training state.

A claim *holds* when the model that has the paper's component beats its ablation by more than the
seed-to-seed gap measured on FCN-8s (two seeds of the same run); *does not hold* when it loses by more;
else it is *within noise*. The LSTM-CF row comes from the synthetic RGB-D study
(``models/ablations/lstmcf_synthetic_depth.json``, docs/rgbd.md), not from CamVid.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from edgeseg.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / "training_state"
RECORDS = ROOT / "models" / "ablations" / "claims"
SUMMARY = ROOT / "models" / "ablations" / "claims.json"
DOC = ROOT / "docs" / "claims.md"
LSTMCF = ROOT / "models" / "ablations" / "lstmcf_synthetic_depth.json"
RECALL = ROOT / "models" / "ablations" / "proposals_recall.json"
START, END = "<!-- claims-table:start -->", "<!-- claims-table:end -->"
NOISE_RUNS = ("fcn8s", "fcn8s_seed1")
CRF_RECORD = "deeplab_largefov_crf"


@dataclass(frozen=True)
class Claim:
    paper: str
    claim: str
    with_run: str  # the record with the paper's component (a claims run name without "claims_")
    without_run: str  # its ablation
    metric: str = "mIoU"  # or "AR@100": proposals, from RECALL (scripts/proposal_recall.py)


CLAIMS = [
    Claim("Chen et al. 2015, DeepLab", "the fully connected CRF refines DeepLab-LargeFOV's labels",
          CRF_RECORD, "deeplab_largefov"),
    Claim("Zheng et al. 2015, CRF-as-RNN", "a CRF trained end to end as an RNN improves the FCN-8s it refines",
          "crfasrnn", "fcn8s"),
    Claim("Liu et al. 2015, ParseNet", "global context (pooled, L2-normalised, fused early) helps",
          "parsenet", "parsenet_no_context"),
    Claim("Long et al. 2015, FCN", "FCN-16s's skip from pool4 beats FCN-32s", "fcn16s", "fcn32s"),
    Claim("Long et al. 2015, FCN", "FCN-8s's skip from pool3 beats FCN-16s", "fcn8s", "fcn16s"),
    Claim("Zhao et al. 2017, PSPNet", "the pyramid pooling module beats the plain dilated backbone",
          "pspnet", "pspnet_no_pyramid"),
    Claim("Badrinarayanan et al. 2015, SegNet", "upsampling with the pooling indices beats nearest upsampling",
          "segnet", "segnet_nearest"),
    Claim("Pinheiro et al. 2016, SharpMask", "top-down refinement beats DeepMask's coarse masks (val instances)",
          "sharpmask", "deepmask", metric="AR@100"),
]


def finished_record(run: Path) -> dict | None:
    """The last line of ``run/metrics.jsonl`` when the run finished its schedule and was scored then, else None."""
    from edgeseg.train.published import read_metrics

    metrics, config = run / "metrics.jsonl", run / "config.json"
    if not metrics.is_file() or not config.is_file():
        return None
    lines = read_metrics(metrics)
    if not lines or lines[-1]["epoch"] != json.loads(config.read_text(encoding="utf-8"))["epochs"]:
        return None
    return lines[-1] if "val_miou" in lines[-1] else None


def crf_scores(run: Path) -> dict[str, float]:
    """mIoU of the run's last.pt on its own val drive, as trained (``deeplab_largefov``) and with the CRF."""
    import torch

    from edgeseg.config import build_dataclass
    from edgeseg.metrics import scores_from_confusion
    from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint
    from edgeseg.train.config import TrainConfig
    from edgeseg.train.data.datasets import EvalDataset, dataset_info, load_split
    from edgeseg.train.models import build_model
    from edgeseg.train.tasks.semantic import evaluate_model

    cfg = build_dataclass(TrainConfig, json.loads((run / "config.json").read_text(encoding="utf-8")))
    data = replace(cfg.data, root=str(ROOT / cfg.data.root))  # runs train from ROOT; an absolute root stays
    plain, meta = model_from_checkpoint(load_checkpoint(run / "last.pt"), str(run / "last.pt"))
    with_crf = build_model(CRF_RECORD, meta.num_classes, **meta.arch_args)
    with_crf.net.load_state_dict(plain.state_dict())
    info = dataset_info(data)
    dataset = EvalDataset(load_split(data, data.val_split, info, cfg.max_val_images, data.val_prefixes), data)
    out = {}
    torch.set_num_threads(1)
    for name, model in (("without_crf", plain), ("with_crf", with_crf.eval())):
        cm = evaluate_model(model, dataset, meta.num_classes, info.ignore_index, torch.device("cpu"))
        out[name] = round(float(scores_from_confusion(cm).miou), 4)
    return out


def collect() -> list[str]:
    """Copy the records of every finished claims run (and DeepLab's CRF scores) to RECORDS; the names copied."""
    copied = []
    for run in sorted(STATE.glob("claims_*")):
        name = run.name.removeprefix("claims_")
        if not run.is_dir() or finished_record(run) is None:
            continue
        target = RECORDS / f"{name}.metrics.jsonl"
        if not target.is_file() or target.read_bytes() != (run / "metrics.jsonl").read_bytes():
            atomic_write_text(target, (run / "metrics.jsonl").read_text(encoding="utf-8"), make_parents=True)
            atomic_write_text(RECORDS / f"{name}.resolved_config.json", (run / "config.json").read_text(encoding="utf-8"))
            copied.append(name)
        if name == "deeplab_largefov" and (name in copied or not (RECORDS / f"{CRF_RECORD}.eval.json").is_file()):
            scores = {"source": f"training_state/{run.name}/last.pt", "split": "held-out drive 0006R0",
                      **crf_scores(run)}
            # The same weights on the same frames as the trainer's last score: a check that this is that model.
            trained = round(finished_record(run)["val_miou"], 4)
            if abs(scores["without_crf"] - trained) > 2e-4:
                raise SystemExit(f"{run}: last.pt scores {scores['without_crf']} here but {trained} in metrics.jsonl")
            atomic_write_text(RECORDS / f"{CRF_RECORD}.eval.json", json.dumps(scores, indent=1) + "\n")
            copied.append(CRF_RECORD)
    return copied


def score_of(name: str, metric: str = "mIoU") -> float | None:
    """Last-epoch held-out-drive mIoU (0..1) of a committed record, or None if it is not there yet.

    For ``metric`` "AR@100", the AR@100 of architecture ``name`` in RECALL (the published proposal models).
    """
    if metric != "mIoU":
        if not RECALL.is_file():
            return None
        results = json.loads(RECALL.read_text(encoding="utf-8"))["results"].values()
        found = [r[metric] for r in results if r["architecture"] == name]
        return found[-1] if found else None
    if name == CRF_RECORD:
        path = RECORDS / f"{CRF_RECORD}.eval.json"
        return json.loads(path.read_text(encoding="utf-8"))["with_crf"] if path.is_file() else None
    path = RECORDS / f"{name}.metrics.jsonl"
    if not path.is_file():
        return None
    from edgeseg.train.published import read_metrics

    return read_metrics(path)[-1]["val_miou"]


def verdict(difference: float, noise: float | None) -> str:
    """'holds', 'does not hold' or 'within noise' for a with-minus-without difference in mIoU points."""
    if noise is None:
        return "noise not measured yet"
    if difference > noise:
        return "holds"
    if difference < -noise:
        return "does not hold"
    return "within noise"


def _points(score: float | None) -> str:
    return "not run yet" if score is None else f"{100 * score:.1f}"


def lstmcf_row(noise_note: str) -> str | None:
    if not LSTMCF.is_file():
        return None
    study = json.loads(LSTMCF.read_text(encoding="utf-8"))
    gains = list(study["depth_gain"].values())
    runs = study["runs"]
    seeds = sorted({k.split("_")[1] for k in runs})
    with_depth = sum(runs[f"rgbd_{s}"]["val_miou"] for s in seeds) / len(seeds)
    without = sum(runs[f"rgb_{s}"]["val_miou"] for s in seeds) / len(seeds)
    holds = "holds" if min(gains) > 0 else "does not hold"
    return (f"| Li et al. 2016, LSTM-CF | depth helps (SYNTHETIC RGB-D scenes, docs/rgbd.md; {len(seeds)} seeds, "
            f"each gain {', '.join(f'{100 * g:+.1f}' for g in gains)}) | {100 * with_depth:.1f} | {100 * without:.1f} | "
            f"{100 * (with_depth - without):+.1f} | {holds} ({noise_note}) |")


def table() -> tuple[str, dict]:
    """The Markdown table and the summary written to SUMMARY."""
    a, b = (score_of(n) for n in NOISE_RUNS)
    noise = None if a is None or b is None else abs(a - b) * 100
    lines = ["| paper | claim | with | without | difference (points) | on CamVid |",
             "| --- | --- | ---: | ---: | ---: | --- |"]
    summary: dict = {"budget": "30 epochs at 256x192, trained on 0001TP + 0016E5, scored on 0006R0 at the last epoch",
                     "seed_gap_points": None if noise is None else round(noise, 2), "claims": []}
    for claim in CLAIMS:
        with_score, without_score = score_of(claim.with_run, claim.metric), score_of(claim.without_run, claim.metric)
        if with_score is None or without_score is None:
            difference, judged = "", "pending"
        else:
            delta = 100 * (with_score - without_score)
            # The FCN-8s seed gap is an mIoU gap; AR has none measured, so its row says so.
            difference, judged = f"{delta:+.1f}", verdict(delta, noise if claim.metric == "mIoU" else None)
        metric = "" if claim.metric == "mIoU" else f"; {claim.metric}, not mIoU"
        lines.append(f"| {claim.paper} | {claim.claim} (`{claim.with_run}` vs `{claim.without_run}`{metric}) | "
                     f"{_points(with_score)} | {_points(without_score)} | {difference} | {judged} |")
        summary["claims"].append({"paper": claim.paper, "claim": claim.claim, "metric": claim.metric,
                                  "with": claim.with_run,
                                  "without": claim.without_run, "with_miou": with_score, "without_miou": without_score,
                                  "verdict": judged})
    row = lstmcf_row("synthetic, not CamVid")
    if row:
        lines.append(row)
    lines += ["", "Every finished run of the study (the same budget; hours of one core on the machine that trained it):", "",
              "| run | architecture and ablation | epochs | hours | held-out drive mIoU | pixel accuracy |",
              "| --- | --- | ---: | ---: | ---: | ---: |"]
    summary["runs"] = {}
    from edgeseg.train.published import read_metrics

    for path in sorted(RECORDS.glob("*.metrics.jsonl")):
        name = path.name.removesuffix(".metrics.jsonl")
        records = read_metrics(path)
        model = json.loads((RECORDS / f"{name}.resolved_config.json").read_text(encoding="utf-8"))["model"]
        args = ", ".join(f"{k}={v}" for k, v in model["args"].items())
        hours = sum(r.get("seconds", 0.0) for r in records) / 3600
        last = records[-1]
        summary["runs"][name] = {"epochs": last["epoch"], "hours": round(hours, 2), "miou": round(last["val_miou"], 4)}
        lines.append(f"| `{name}` | {model['name']}{f' ({args})' if args else ''} | {last['epoch']} | {hours:.1f} | "
                     f"{100 * last['val_miou']:.1f} | {100 * last['val_pixel_accuracy']:.1f} |")
    gap = "not measured yet" if noise is None else f"{noise:.1f} mIoU points"
    head = (f"Generated by `scripts/claims_table.py` (do not edit by hand). Budget: {summary['budget']}; "
            f"scores in % (held-out-drive mIoU unless the row says otherwise). Seed-to-seed gap (FCN-8s, seeds 0 and 1): {gap}; a difference beyond it in the paper's "
            "favour *holds*, beyond it against the paper *does not hold*.")
    return head + "\n\n" + "\n".join(lines), summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-collect", action="store_true", help="only rebuild the table from the committed records")
    args = parser.parse_args(argv)
    if not args.no_collect:
        for name in collect():
            print(f"collected {name}")
    body, summary = table()
    doc = DOC.read_text(encoding="utf-8")
    if START not in doc or END not in doc:
        raise SystemExit(f"{DOC} has no {START} ... {END} markers to write the table between")
    before, rest = doc.split(START, 1)
    after = rest.split(END, 1)[1]
    atomic_write_text(DOC, f"{before}{START}\n{body}\n{END}{after}")
    atomic_write_text(SUMMARY, json.dumps(summary, indent=1) + "\n", make_parents=True)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
