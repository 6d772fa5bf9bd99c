"""The sandbox: a deterministic simulated commerce world and local twins of the channel APIs serving it.

Production code reaches every channel through its real client path; pointed at the sandbox by configuration,
the demo and the tests run that same code offline. See README.md.
"""
