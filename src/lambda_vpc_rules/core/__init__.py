"""The evaluation core, pure: the model, the rules and their registry, the IAM policy evaluator, the engine
that runs rules over facts, and which resources a change affects (drift). No AWS call is made here, and
nothing here imports from the layers above (aws, rdk, outputs, tooling)."""
