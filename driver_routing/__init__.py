"""The driver-routing command line and the local stack that runs the chain on one machine."""
