"""The floor: errors, settings, model files and backends, the chat engine and its prompt, CLI plumbing.

Nothing here imports memory, personas, safety or the rest of app.
"""
