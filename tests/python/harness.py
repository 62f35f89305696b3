"""What the Python tests share: a real v2p-server on loopback."""
import os
import subprocess


def start_server(bin_dir, work, extra_args=()):
    """v2p-server on an empty repository in `work`, with one spawned worker;
    returns (process, address) once it has written its port to the ready
    pipe. Its log is work/server.log."""
    repo = os.path.join(work, "repo")
    os.makedirs(repo)
    read, write = os.pipe()
    with open(os.path.join(work, "server.log"), "w") as log:
        server = subprocess.Popen(
            [os.path.join(bin_dir, "v2p-server"), "--repo=" + repo, "--port=0", "--metrics_port=-1",
             "--workers=spawn:1", "--worker_device=cpu", "--shutdown_grace_s=1",
             "--ready_fd=%d" % write] + list(extra_args), pass_fds=(write,), stderr=log)
    os.close(write)
    with os.fdopen(read) as ready:
        line = ready.readline().split()
    if not line:
        server.kill()
        with open(os.path.join(work, "server.log")) as log:
            raise RuntimeError("v2p-server exited before it was ready (code %s):\n%s" %
                               (server.wait(), log.read()[-2000:]))
    return server, "127.0.0.1:" + line[0]
