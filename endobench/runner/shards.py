"""Sharded runs under ``torchrun``: which images each rank infers, and the few collectives a run needs.

``torchrun --nproc_per_node N -m endobench run ...`` starts N processes with ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK`` set. They write ONE run folder, the same as a single process writes:

* rank 0 alone opens the folder (the ``--force``/``--resume`` rules), hashes the inputs and starts
  ``run.json``; its folder, manifest and configuration (the run's name included) are broadcast, and
  an error it meets is raised on every rank;
* image ``i`` of the manifest (sets in order) is rank ``i % N``'s: each rank infers the pending
  images of its share, writes their masks and appends its journal lines to its own
  ``.journal.rank<R>.jsonl``, so no two processes ever write one file;
* the ranks gather their timings, counts and decoded image sizes on rank 0, which folds the rank
  journals into ``.journal.jsonl`` and alone writes the time files, ``timing.json`` (per rank and in
  total), the scores and the finished ``run.json``.

A run killed on every rank resumes with ``--resume`` under any number of ranks (or alone): the
journal and every rank journal are read together, and an image is done when its line exists and
its outputs decode. Each rank gets one GPU on a multi-GPU node (``LOCAL_RANK``, see
:func:`endobench.devices.resolve_device`), or CPU threads from its share of the node's cores, with
the gloo backend.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from endobench.distributed_env import RankRoles, launch_place
from endobench.errors import EndobenchError
from endobench.runner.conditions import usable_cores

if TYPE_CHECKING:  # torch is imported when a run starts, not with the package
    import torch

    from endobench.runner.config import RunConfig
    from endobench.runner.engine import Engine
    from endobench.runner.inference import InferenceCounts
    from endobench.runner.timing import TimingLog
    from endobench.writers.run_folder import RunFolder

T = TypeVar("T")
Manifest = dict[str, list[dict[str, Any]]]

SHARDING_RULE = "image i of the manifest (sets in order) is inferred by rank i % world_size"
TOTAL_RULE = (
    "fps and throughput over every rank's passes; end-to-end: all images / the longest rank's "
    "loop time (the ranks run side by side)"
)
#: How long a rank waits for the others (rank 0 hashing a large data set, the slowest rank).
WAIT_LIMIT = timedelta(hours=6)


@dataclass
class Shard(RankRoles):
    """This process's place in a run: its rank among ``world_size`` processes (1 alone).

    ``is_main`` (rank 0 writes the run's shared files) and ``distributed`` come from
    :class:`endobench.distributed_env.RankRoles`.

    Attributes:
        rank: Global rank (0 writes the run's shared files).
        world_size: Processes in the run.
        local_rank: Rank on this node: the GPU a plain ``cuda`` means.
        local_world_size: Processes on this node: they share its CPU cores.
        backend: The process group's backend (``gloo``, ``nccl``), None alone.
        initialised_here: Whether :func:`open_shard` created the process group (and ends it).
        device: The run's device, resolved once by :func:`open_shard` (None before).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    backend: str | None = None
    initialised_here: bool = False
    device: torch.device | None = None

    def owns(self, index: int) -> bool:
        """Say whether image ``index`` of the manifest is this rank's (``index % world_size``)."""
        return index % self.world_size == self.rank

    def select(self, manifest: Manifest) -> Manifest:
        """Return this rank's share of a manifest: every set, with the entries (the same objects) it owns."""
        share: Manifest = {}
        index = 0
        for set_name, entries in manifest.items():
            share[set_name] = []
            for entry in entries:
                if self.owns(index):
                    share[set_name].append(entry)
                index += 1
        return share

    def cores(self) -> int:
        """The CPU cores this process may use: its share of the node's usable cores."""
        return max(1, len(usable_cores()) // self.local_world_size)

    def main_result(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank 0 and return its result on every rank.

        An :class:`EndobenchError` raised by ``fn`` is raised on every rank with the same message;
        any other failure on rank 0 stops the other ranks with a one-line error.
        """
        if not self.distributed:
            return fn()
        import torch.distributed as dist

        payload: list[Any] = [None]
        if self.is_main:
            try:
                payload = [("ok", fn())]
            except EndobenchError as err:
                payload = [("error", type(err), str(err))]
                raise
            except BaseException as err:
                payload = [("failed", None, f"rank 0 stopped: {type(err).__name__}: {err}")]
                raise
            finally:
                dist.broadcast_object_list(payload, src=0)
        else:
            dist.broadcast_object_list(payload, src=0)
        kind, *rest = payload[0]
        if kind == "ok":
            return rest[0]
        error_type, message = rest
        raise (error_type if error_type is not None else EndobenchError)(message)

    def gather(self, value: T) -> list[T]:
        """Return every rank's ``value`` in rank order (``[value]`` alone); waits for all ranks."""
        if not self.distributed:
            return [value]
        import torch.distributed as dist

        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values


def shard_from_env(environ: Mapping[str, str] | None = None) -> Shard:
    """This process's shard from torchrun's environment variables (alone: rank 0 of 1).

    The variables are read by :func:`endobench.distributed_env.launch_place`.
    """
    place = launch_place(environ)
    return Shard(
        rank=place.rank,
        world_size=place.world_size,
        local_rank=place.local_rank,
        local_world_size=place.local_world_size,
    )


@contextlib.contextmanager
def open_shard(device: str) -> Iterator[Shard]:
    """This process's shard of a run, with its device resolved once; under torchrun, in the
    process group (joined here and left afterwards; nothing to join alone).

    Args:
        device: The run's ``--device`` (:mod:`endobench.devices`; a plain ``cuda`` is the local
            rank's GPU); CUDA ranks use NCCL on it, the others gloo.
    """
    from endobench.devices import resolve_device

    shard = shard_from_env()
    shard = replace(shard, device=resolve_device(device, shard.local_rank))
    if not shard.distributed:
        yield shard
        return
    import torch.distributed as dist

    from endobench.process_group import close_group, open_group

    if dist.is_initialized():
        yield replace(shard, backend=dist.get_backend())
        return
    backend = open_group(shard.device, timeout=WAIT_LIMIT)
    try:
        yield replace(shard, backend=backend, initialised_here=True)
    finally:
        close_group()


@dataclass
class ShardOutcome:
    """What the ranks' inference gives rank 0: the timing log, per-set counts, per-rank figures."""

    log: TimingLog
    counts: InferenceCounts
    ranks: list[dict[str, Any]] | None = None


def infer_shards(
    shard: Shard,
    engine: Engine,
    config: RunConfig,
    folder: RunFolder,
    manifest: Manifest,
    on_written: Callable[[str, str], None] | None = None,
) -> ShardOutcome:
    """Infer this rank's share of the images, then gather every rank's results on rank 0.

    Alone, this is :func:`endobench.runner.inference.infer` over every image. Under torchrun, each
    rank journals to its own file; once all are done, rank 0 holds the summed counts, the decoded
    image sizes of every rank (filled into ``manifest``), the total timing log and the per-rank
    figures, and the rank journals are merged into the run's journal.

    ``on_written`` (called with ``(set, name)`` once an image is written, to score it during
    inference) is called for the images this process writes when it is rank 0 (alone: every
    image); under torchrun, rank 0 scores the other ranks' images once they are all done.
    """
    from endobench.runner.inference import infer

    extra = {} if on_written is None or not shard.is_main else {"on_written": on_written}
    if not shard.distributed:
        log, counts = infer(engine, config, folder, manifest, **extra)
        folder.merge_journals()  # left by an earlier sharded session of this folder
        return ShardOutcome(log, counts)
    share = shard.select(manifest)
    with folder.rank_journal(shard.rank):
        log, counts = infer(
            engine,
            replace(config, progress=config.progress and shard.is_main),
            folder,
            share,
            **extra,
        )
        sizes = {
            (set_name, e["name"]): (e.get("height"), e.get("width"))
            for set_name, entries in share.items()
            for e in entries
        }
        figures = _rank_figures(shard, engine, log, share, folder.read_journal())
        gathered = shard.gather((log, counts, sizes, figures))
    if not shard.is_main:
        return ShardOutcome(log, counts)
    folder.merge_journals()
    _fill_sizes(manifest, [g[2] for g in gathered])
    return ShardOutcome(
        _total_log([g[0] for g in gathered]),
        _sum_counts([g[1] for g in gathered]),
        [g[3] for g in gathered],
    )


def timing_with_ranks(
    timing: dict[str, Any], shard: Shard, outcome: ShardOutcome
) -> dict[str, Any]:
    """Add the per-rank figures of a sharded run to its ``timing.json`` (unchanged alone, and
    when no rank had anything left to infer: the earlier session's record stands)."""
    if outcome.ranks is None or outcome.log.images == 0:
        return timing
    return timing | {
        "distributed": {
            "world_size": shard.world_size,
            "backend": shard.backend,
            "sharding": SHARDING_RULE,
            "total": TOTAL_RULE,
            "throughput_all_ranks_images_per_s": _sum_known(
                [r["throughput_images_per_s"] for r in outcome.ranks]
            ),
            "ranks": outcome.ranks,
        }
    }


def _rank_figures(
    shard: Shard, engine: Engine, log: TimingLog, share: Manifest, journal: dict
) -> dict[str, Any]:
    """One rank's own figures: device, images, batch-1 FPS (over the journal's batch-1 times of
    its share, as the total's), throughput and end-to-end rate (this session)."""
    import torch

    from endobench.runner.timing import latency_stats

    batch1 = [
        journal[key].get("b1")
        for key in ((s, e["name"]) for s, entries in share.items() for e in entries)
        if key in journal
    ]
    return {
        "rank": shard.rank,
        "local_rank": shard.local_rank,
        "device": str(engine.device),
        "device_name": engine.device_name,
        "threads": torch.get_num_threads(),
        "images": log.images,
        "fps": latency_stats([ms for ms in batch1 if ms is not None]),
        "throughput_images_per_s": log.throughput(),
        "end_to_end_images_per_s": log.end_to_end(),
        "seconds": _elapsed(log),
    }


def _sum_known(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _elapsed(log: TimingLog) -> float | None:
    if log.started is None or log.finished is None:
        return None
    return log.finished - log.started - log.excluded_s


def _total_log(logs: list[TimingLog]) -> TimingLog:
    """The ranks' logs as one: every pass, all images, and the longest rank's loop time."""
    from endobench.runner.timing import TimingLog

    total = TimingLog(load_start=logs[0].load_start, load_end=logs[0].load_end)
    for log in logs:
        total.batch1_ms.update(log.batch1_ms)
        total.per_image_ms.update(log.per_image_ms)
        total.batch_ms.extend(log.batch_ms)
        total.images += log.images
    spans = [s for s in (_elapsed(log) for log in logs) if s is not None]
    if spans:
        total.started, total.finished = 0.0, max(spans)
    return total


def _sum_counts(all_counts: list[InferenceCounts]) -> InferenceCounts:
    total: InferenceCounts = {}
    for counts in all_counts:
        for set_name, (inferred, skipped) in counts.items():
            before = total.get(set_name, (0, 0))
            total[set_name] = (before[0] + inferred, before[1] + skipped)
    return total


def _fill_sizes(manifest: Manifest, all_sizes: list[dict[tuple[str, str], tuple]]) -> None:
    """Fill the image sizes the other ranks decoded into rank 0's manifest."""
    known = {key: size for sizes in all_sizes for key, size in sizes.items() if size[0]}
    for set_name, entries in manifest.items():
        for entry in entries:
            size = known.get((set_name, entry["name"]))
            if size is not None and not entry.get("height"):
                entry["height"], entry["width"] = size
