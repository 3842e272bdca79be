"""Clients of external platforms: the executors that carry out approved actions.

Each executor is a thin HTTP client behind one interface (`executors.Executor`): Discord's
REST API (`discord.DiscordExecutor`) and signed webhook deliveries (`webhook.WebhookExecutor`).
They report every outcome as an `ExecutionResult` and never raise for an HTTP failure, so the
worker's executor stage can record the result in the action's history whatever happened.
"""
