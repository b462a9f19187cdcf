"""PhoneGate's command-line front door: the `phonegate` console script and the exit codes it returns."""
