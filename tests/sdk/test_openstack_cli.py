"""The `openstack loadbalancer` commands of python-octaviaclient (through
python-openstackclient), run as a user would: a process with OS_* variables
pointing at Weir's Keystone. They resolve names and ids through Neutron's
read side (`/v2.0/subnets`), then use the same `/v2.0/lbaas` routes as
openstacksdk."""

import json
import os
import shutil
import subprocess
import sys
import unittest

from tests.sdk.harness import WeirTestCase, World

CLI_TIMEOUT_S = 60


class OctaviaClientCli(WeirTestCase):

    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "cli", 10, 90, vms=0)
        cls.cli = shutil.which("openstack", path=os.path.dirname(sys.executable))
        if cls.cli is None:
            raise AssertionError("the openstack command is not installed next to %s" % sys.executable)

    def openstack(self, *args, expect_ok=True):
        env = dict(os.environ,
                   OS_AUTH_TYPE="v3applicationcredential",
                   OS_AUTH_URL=self.server.url + "/v3",
                   OS_REGION_NAME="local",
                   OS_APPLICATION_CREDENTIAL_ID=self.world.project.ak,
                   OS_APPLICATION_CREDENTIAL_SECRET=self.world.project.sk)
        for name in ("OS_CLOUD", "OS_PROJECT_ID", "OS_USERNAME", "OS_PASSWORD"):
            env.pop(name, None)
        done = subprocess.run([self.cli, *args], env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
        if expect_ok:
            self.assertEqual(done.returncode, 0, "openstack %s: %s" % (" ".join(args), done.stderr))
        return done

    def json_of(self, *args):
        return json.loads(self.openstack(*args, "-f", "json").stdout)

    def test_load_balancer_to_member_and_errors(self):
        lb = self.json_of("loadbalancer", "create", "--vip-subnet-id", self.world.subnet["id"], "--name", "cli-lb")
        self.assertEqual(lb["vip_subnet_id"], self.world.subnet["id"])
        listener = self.json_of("loadbalancer", "listener", "create", "--protocol", "TCP", "--protocol-port", "9600",
                                "--name", "cli-l", lb["id"])
        pool = self.json_of("loadbalancer", "pool", "create", "--listener", listener["id"], "--protocol", "TCP",
                            "--lb-algorithm", "LEAST_CONNECTIONS", "--name", "cli-p")
        self.assertEqual(pool["lb_algorithm"], "LEAST_CONNECTIONS")
        member = self.json_of("loadbalancer", "member", "create", "--address", "10.90.1.60", "--protocol-port", "80",
                              "--weight", "5", pool["id"])
        self.assertEqual((member["address"], member["protocol_port"], member["weight"]), ("10.90.1.60", 80, 5))
        listed = self.json_of("loadbalancer", "member", "list", pool["id"])
        self.assertEqual([(m["address"], m["protocol_port"]) for m in listed], [("10.90.1.60", 80)])
        native = self.native.ok("GET", "/v1/pools/%s/backends" % pool["id"], token=self.world.project.token)
        self.assertEqual([b["address"] for b in native["backends"]], ["10.90.1.60"])

        dup = self.openstack("loadbalancer", "member", "create", "--address", "10.90.1.60", "--protocol-port", "80",
                             pool["id"], expect_ok=False)
        self.assertNotEqual(dup.returncode, 0)
        self.assertIn("already using ip address 10.90.1.60 on protocol_port 80", dup.stderr)
        self.assertIn("409", dup.stderr)

        self.openstack("loadbalancer", "member", "delete", pool["id"], member["id"])
        self.assertEqual(self.json_of("loadbalancer", "member", "list", pool["id"]), [])
        self.openstack("loadbalancer", "delete", "--cascade", lb["id"])
        self.assertEqual(self.json_of("loadbalancer", "list"), [])


if __name__ == "__main__":
    unittest.main()
