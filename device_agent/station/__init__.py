"""A check-in station (`phonegate station --site NAME`): a PC with a USB hub where staff plug their work phones in.

    loop.py     follows the adb server's arrivals and removals, runs the site's scheduled sweep, stops on a signal
    phone.py    what happens to one plugged-in phone: register, install (the provisioning flow), or check
    render.py   the live table on a terminal, plain lines in a log (chosen at the edge)
    cli.py      the command, its settings and the Celery worker beside it
"""
