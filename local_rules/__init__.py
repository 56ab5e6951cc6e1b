"""Local automations: rule model, parser, compiler, the pure `decide()`, and the runner."""
