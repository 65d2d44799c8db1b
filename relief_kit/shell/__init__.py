"""The shell: case assembly, views, the review app, the batch, the archive, messages,
the meeting report, privacy jobs: thin over the core.
"""
