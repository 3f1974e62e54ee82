"""A child's peak RSS, measured from a lean parent: ru_maxrss starts from the parent's size at
fork, so the tests run `python -S -c LAUNCHER PROGRAM ARGS...`, which forks, execs PROGRAM and
prints its exit code and its peak RSS in bytes."""

LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), ru.ru_maxrss * 1024)
"""
