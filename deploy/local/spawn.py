"""spawn.py LOG CMD [ARG…]: start CMD detached (own session, output appended to LOG), print its pid.

The infra and service scripts record that pid and later stop exactly that
process. (``setsid CMD &`` forks again when the shell runs jobs in their own
process groups, and ``$!`` is then not the process that keeps running.)
"""

import subprocess
import sys

log_path, *command = sys.argv[1:]
with open(log_path, "ab") as log:
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
print(process.pid)
