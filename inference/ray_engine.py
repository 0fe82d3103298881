"""Scoring on Ray: the local engine's chunks, scored in parallel by Ray Data workers that each load the bundle once.

```
read task (on the driver's node)    inference.io.read_rows -> mark_duplicates -> chunks of ray.batch_size rows
  -> map_batches(_ChunkScorer)      ray.concurrency workers: score_chunk (segmentation, actors, model)
  -> driver, in input order         the local engine's writers (one file, or resumable shards) and summary
```

The input is read by the same reader as the local engine rather than by `ray.data.read_text/read_csv`:
those fail the whole job on a line that is not UTF-8 (JSONL) or has too many fields (CSV), while every such
row must become a reject with its row number. Reading is cheap next to the model; the one read task also
marks repeated ids in input order, so the first occurrence wins as locally. Results come back in input
order (`preserve_order`), so rows, rejects and summary equal the local engine's.
"""

from __future__ import annotations

import pickle
import warnings

from .bundle import read_model_info
from .config import ScoreConfig
from .score import (
    RunSummary,
    check_paths,
    input_chunks,
    load_dictionary,
    load_predictor,
    relations_enabled,
    score_chunk,
    without_relations,
)
from .shards import open_output


def _read_chunks(_, config: ScoreConfig, fmt: str, skip: frozenset[int]):
    """The one read task: yields each chunk not in `skip` as one pickled row (chunks hold arbitrary records)."""
    for index, chunk in input_chunks(config, fmt, skip):
        yield {"index": [index], "chunk": [pickle.dumps(chunk)]}


class _ChunkScorer:
    """A Ray Data worker: loads the bundle once, then scores whole chunks."""

    def __init__(self, config: ScoreConfig, dictionary):
        self.config = config
        self.dictionary = dictionary
        self.predictor = load_predictor(config)

    def __call__(self, batch: dict) -> dict:
        results = [
            pickle.dumps(score_chunk(self.config, self.dictionary, self.predictor, pickle.loads(chunk)))
            for chunk in batch["chunk"]
        ]
        return {"index": batch["index"], "result": results}


def score_with_ray(config: ScoreConfig, show_progress: bool = True, overwrite: bool = False) -> RunSummary:
    """Score like `inference.score.score`, with the model run by Ray Data workers; output is written here."""
    import ray

    fmt = check_paths(config)
    dictionary = load_dictionary(config)
    info = read_model_info(config.model)  # the driver needs labels and model id, not the weights
    if not relations_enabled(config, info):
        config = without_relations(config)
    settings = config.scoring.ray
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=None if settings.address == "local" else settings.address, log_to_driver=show_progress)
    try:
        with open_output(config, info, dictionary, overwrite, show_progress) as output:
            chunks = ray.data.from_items([0]).map_batches(
                _read_chunks, fn_kwargs={"config": config, "fmt": fmt, "skip": output.done}, batch_size=1,
                num_cpus=0,  # reading is light; the CPUs go to the scorers
                # input.path was checked on this machine, so it is read on this machine
                label_selector={"ray.io/node-id": ray.get_runtime_context().get_node_id()},
            )
            results = chunks.map_batches(
                _ChunkScorer, fn_constructor_kwargs={"config": config, "dictionary": dictionary}, batch_size=1,
                compute=ray.data.ActorPoolStrategy(size=settings.concurrency),
                num_cpus=settings.num_cpus, num_gpus=settings.num_gpus,
            )
            context = results.context  # this dataset's copy: the process-wide DataContext stays as it was
            context.execution_options.preserve_order = True  # chunks come back in input order, as locally
            context.target_max_block_size = 1  # a block per chunk: chunks sharing a block go to one worker
            context.enable_progress_bars = False  # the output's progress bar counts documents instead
            with warnings.catch_warnings():
                # Ray counts one input (the read task) and warns that one worker will do; a block per chunk feeds all
                warnings.filterwarnings("ignore", "The minimum number of concurrent actors", UserWarning)
                for row in results.iter_rows():
                    output.write(int(row["index"]), *pickle.loads(row["result"]))
            return output.finish()
    finally:
        if started_here:
            ray.shutdown()
