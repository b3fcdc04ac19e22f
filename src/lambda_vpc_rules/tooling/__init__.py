"""For people and pipelines: the `lambda-vpc-rules` CLI, the demo estate, packaging and deployment."""
