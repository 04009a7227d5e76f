"""The 2,500 training descriptions of text-stitching's full run (250 per topic), as JSON lines,
and their topics, one per line: the same texts, so the embeddings come from the cache."""
import json
import sys
from pathlib import Path

from relreps.datasets.debian import DEFAULT_TOPICS, load_descriptions, topic_dataset
from relreps.experiments.common import split_topics

records, _ = load_descriptions(Path(sys.argv[1]) / "text")
data = topic_dataset(records, list(DEFAULT_TOPICS), "en", name="debian-descriptions-en")
topics = split_topics(data, 250, 100, source={})
Path("descriptions.jsonl").write_text("".join(json.dumps(t) + "\n" for t in topics.texts["train"]))
Path("topics.txt").write_text("".join(topics.classes[i] + "\n" for i in topics.labels["train"]))
