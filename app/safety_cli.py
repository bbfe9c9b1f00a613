"""``python -m safety``: score JSONL files with the shipped judge, and run the evaluation.

``score`` is a contract other tools rely on: one output line per input line, in order, with at least
``unsafe``, ``categories``, ``reply_class`` (when a response was given) and ``reward``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from app.core.commands import KeepsakeGroup
from app.core.errors import KeepsakeError
from safety.policy import SAFE
from safety.reward import expected_reward


def _judge(name: str = "reply-reader"):  # type: ignore[no-untyped-def]
    from memory.embedder import load_embedder
    from safety.judges import EmbeddingJudge

    if name == "cross-encoder":
        from safety.cross_encoder import CrossEncoderJudge

        return CrossEncoderJudge(load_embedder(""))
    return EmbeddingJudge(load_embedder(""))


def _scoring_judge():  # type: ignore[no-untyped-def]
    """What ``score`` answers with: the shipped judge with the second readers beside it, as in a chat."""
    from safety.second_reading import chat_judge

    return chat_judge(_judge())


@click.group(cls=KeepsakeGroup)
def main() -> None:
    """Keepsake's safety classifier and its evaluation."""


@main.command()
@click.option("--input", "source", type=click.Path(path_type=Path), required=True,
              help='JSONL with {"prompt": ..., "response": ...} per line ("response" optional); - for stdin.')
@click.option("--output", type=click.Path(path_type=Path), help="Write here instead of stdout.")
@click.option("--batch", type=int, default=64, show_default=True)
def score(source: Path, output: Path | None, batch: int) -> None:
    """Score requests (and replies) line by line."""
    lines = (sys.stdin if str(source) == "-" else _open(source)).read().splitlines()
    rows = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            prompt, response = obj["prompt"], obj.get("response")
            if not isinstance(prompt, str) or not (response is None or isinstance(response, str)):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise KeepsakeError(f"line {n} of {source}: expected a JSON object with a string \"prompt\" "
                                "and an optional string \"response\"") from None
        rows.append((prompt, response))
    judge = _scoring_judge()
    out = open(output, "w", encoding="utf-8") if output else sys.stdout  # noqa: SIM115
    try:
        for start in range(0, len(rows), batch):
            for (prompt, response), v in zip(rows[start:start + batch], judge.judge_many(rows[start:start + batch])):
                unsafe = v.unsafe if response is None else v.reply["C"]
                record = {"unsafe": round(unsafe, 4), "request_unsafe": round(v.unsafe, 4),
                          "category": v.category,
                          "categories": {k: round(p, 4) for k, p in v.prompt.items() if k != SAFE},
                          "reply_class": {k: round(p, 4) for k, p in v.reply.items()} if v.reply else None,
                          "reward": round(expected_reward(v), 4) if v.reply else None}
                out.write(json.dumps(record) + "\n")
    finally:
        if output:
            out.close()


def _open(path: Path):  # type: ignore[no-untyped-def]
    try:
        return path.open(encoding="utf-8")
    except OSError as exc:
        raise KeepsakeError(f"cannot read {path}: {exc.strerror}") from None


@main.command("eval")
@click.option("--quick", is_flag=True, help="At most 60 rows of each set and 6 companion conversations.")
@click.option("--rows", type=click.IntRange(min=10), help="At most this many rows of each held-out set "
              "(default 400 and every self-harm row; --quick 60). The test suite's smoke run takes 10.")
@click.option("--e2e", type=int, default=0, help="Also generate N replies per set with the default model, filter off and on.")
@click.option("--companion/--no-companion", default=True, show_default=True,
              help="Play the companion-conversation suite through the chat path (safety/suites/companion.jsonl).")
@click.option("--companion-only", is_flag=True, help="Only the companion suite (it needs no ../shared data).")
@click.option("--limit", type=click.IntRange(min=2), help="Companion conversations to play, half safe and half "
              "harmful (default: all 330; --quick plays 6).")
@click.option("--suite", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Another companion suite in the same JSONL form (its hand labels beside it, <name>_labels.jsonl); "
              "default: safety/suites/companion.jsonl.")
@click.option("--replies", type=click.Path(dir_okay=False, path_type=Path),
              help="Append each companion reply to this JSONL file as it is shown (for reading and hand labels).")
@click.option("--judge", "judge_name", type=click.Choice(["reply-reader", "cross-encoder"]), default="reply-reader",
              show_default=True, help="Which trained judge to measure beside the chat default.")
@click.option("--json", "as_json", is_flag=True)
def evaluate_command(quick: bool, rows: int | None, e2e: int, companion: bool, companion_only: bool, limit: int | None,
                     suite: Path | None, replies: Path | None, judge_name: str, as_json: bool) -> None:
    """Measure the shipped judge on the public sets in ../shared/data/safety, and the filter end to end."""
    from app.safety_e2e import (companion_run, end_to_end, probes_through_filter, render_end_to_end, render_probes,
                                render_replies, replies_through_filter)
    from safety.evaluate import (QUICK_ROWS, dose, evaluate, harm_others, hate, minors, render, render_dose,
                                  render_harm_others, render_hate, render_minors, render_self_harm, self_harm)

    per_set = rows or (QUICK_ROWS if quick else None)  # None: evaluate's 400 a set, every self-harm row
    results = {} if companion_only else evaluate(_judge(judge_name), rows=per_set)
    if not companion_only:
        from memory.embedder import load_embedder
        from safety.baseline import PreviousJudge
        from safety.cross_encoder import CrossEncoderJudge
        from safety.dangerous_dose import detector as dose_detector
        from safety.harm_others import detector as harm_others_detector
        from safety.hate import detector as hate_detector
        from safety.minors import MinorsDetector
        from safety.self_harm import detector as self_harm_detector

        default = PreviousJudge(load_embedder(""))
        results["self_harm"] = self_harm(self_harm_detector(), default, per_set=per_set)
        results["harm_others"] = harm_others(harm_others_detector(), default, per_set=per_set,
                                             second=CrossEncoderJudge())
        results["dangerous_dose"] = dose(dose_detector(), default, per_set=per_set)
        results["hate"] = hate(hate_detector(), default, per_set=per_set)
        results["minors"] = minors(MinorsDetector(), default, per_set=per_set)
        results["probes"] = probes_through_filter(per_set)
        results["replies"] = replies_through_filter(per_set)
    if e2e and not companion_only:
        results["end_to_end"] = end_to_end(e2e)
    if companion or companion_only:
        from safety import companion as suite_module

        played = companion_run(limit=limit or (6 if quick else None), out=replies, suite=suite or suite_module.SUITE,
                               progress=lambda n, total: click.echo(f"\rcompanion {n}/{total}", nl=n == total, err=True))
        results["companion"] = {k: v for k, v in played.items() if k != "replies"}
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    if not companion_only:
        click.echo(render(results))
        click.echo(render_self_harm(results["self_harm"]))
        click.echo(render_harm_others(results["harm_others"]))
        click.echo(render_dose(results["dangerous_dose"]))
        click.echo(render_hate(results["hate"]))
        click.echo(render_minors(results["minors"]))
        click.echo(render_probes(results["probes"]))
        click.echo(render_replies(results["replies"]))
    if "end_to_end" in results:
        click.echo(render_end_to_end(results["end_to_end"]))
    if "companion" in results:
        click.echo(suite_module.render(results["companion"]))
