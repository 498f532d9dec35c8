"""Issue 3: the seed's whole preparation flow, verbatim, with the stock
openstack CLI against Nova- and Neutron-compatible APIs (fake drivers)."""

import json
import os
import signal
import time

# The seed's security group table (preparation.sh): protocol, ports, description.
SEED_RULES = """\
TCP     22      SSH
TCP     80      HTTP for testing
TCP     6443    Kubernetes API Server
TCP     2379:2380       etcd server client API
TCP     10250   Kubelet API
TCP     10251   kube-scheduler
TCP     10252   kube-controller-manager
TCP     10255   Read-only Kubelet API
TCP     30000:32767     NodePort Services
TCP     179     Calico BGP network
TCP     9099    Calico felix (health check)
UDP     8285    Flannel
UDP     8472    Flannel
TCP     6781:6784       Weave Net
UDP     6783:6784       Weave Net
"""

# The seed's kubenet behind kuberouter, and kubesg opened for ICMP.
KUBENET = """
openstack network create kubenet
openstack subnet create --subnet-range 172.16.0.0/24 --network kubenet --dns-nameserver 192.168.1.16 kubesubnet
openstack router create kuberouter
openstack router set --external-gateway public kuberouter
openstack router add subnet kuberouter kubesubnet
openstack security group create kubesg
openstack security group rule create kubesg --proto icmp
"""

PREPARATION = KUBENET + f"""
while read proto ports description
do
    openstack security group rule create kubesg --proto $proto --dst-port $ports --description "$description"
done << EOF
{SEED_RULES}EOF
ssh-keygen -q -f kubekey -P ""
openstack keypair create --public-key kubekey.pub kubekey
openstack server create --image centos7 --network kubenet --flavor d4 --key-name kubekey master1
openstack server create --image centos7 --network kubenet --flavor d4 --key-name kubekey worker1
IPMASTER=$(openstack floating ip create public -f value -c name)
IPWORKER=$(openstack floating ip create public -f value -c name)
openstack server add security group master1 kubesg
openstack server add security group worker1 kubesg
openstack server add floating ip master1 $IPMASTER
openstack server add floating ip worker1 $IPWORKER
echo "$IPMASTER $IPWORKER" > floating-ips
"""

KUBE = {"user": "kube", "project": "kube"}


def as_json(cloud, *args, **kwargs):
    return json.loads(cloud.openstack(*args, "-f", "json", **kwargs).stdout)


def wait_for_servers(cloud, names, status="ACTIVE", timeout=30, **who):
    deadline = time.monotonic() + timeout
    while True:
        servers = {s["Name"]: s for s in as_json(cloud, "server", "list", **who)}
        if all(servers.get(n, {}).get("Status") == status for n in names):
            return servers
        assert time.monotonic() < deadline, f"servers not {status}: {servers}"
        time.sleep(0.5)


def fails(cloud, *args, **kwargs):
    result = cloud.openstack(*args, check=False, **kwargs)
    assert result.returncode != 0, f"openstack {' '.join(args)} unexpectedly succeeded: {result.stdout}"
    return result.stderr


def test_seed_preparation_flow(cloud):
    (cloud.workdir / "centos7.qcow2").write_bytes(os.urandom(1 << 20))
    cloud.sh(
        "openstack image create --file centos7.qcow2 --disk-format qcow2 --public centos7\n"
        "openstack project create kube\n"
        "openstack user create kube --password pw\n"
        "openstack role add --user kube --project kube member\n"
        "openstack role add --user kube --project kube load-balancer_member\n"
    )
    cloud.sh(PREPARATION, **KUBE)
    ip_master, ip_worker = (cloud.workdir / "floating-ips").read_text().split()

    servers = wait_for_servers(cloud, ["master1", "worker1"], **KUBE)
    for name, floating in [("master1", ip_master), ("worker1", ip_worker)]:
        networks = servers[name]["Networks"]
        assert list(networks) == ["kubenet"], networks
        fixed = networks["kubenet"][0]
        assert fixed.startswith("172.16.0."), networks
        assert floating in networks["kubenet"], networks
    rules = as_json(cloud, "security", "group", "rule", "list", "kubesg", **KUBE)
    ingress = sorted((r["IP Protocol"], r["Port Range"]) for r in rules if r.get("Direction", "ingress") == "ingress")
    assert ("tcp", "30000:32767") in ingress and ("udp", "6783:6784") in ingress and ("icmp", "") in ingress
    assert len(ingress) == 16, ingress
    shown = as_json(cloud, "server", "show", "master1", **KUBE)
    assert {g["name"] for g in shown["security_groups"]} == {"default", "kubesg"}
    assert shown["key_name"] == "kubekey"
    assert "ds4G" in json.dumps(shown["flavor"])

    # --min 2 --max 2 names the servers c-1 and c-2.
    cloud.openstack("server", "create", "--image", "centos7", "--network", "kubenet", "--flavor", "1",
                    "--key-name", "kubekey", "--min", "2", "--max", "2", "c", **KUBE)
    servers = wait_for_servers(cloud, ["c-1", "c-2"], **KUBE)

    # The server's port is found by device id, and a floating IP can be set on it directly.
    c1 = servers["c-1"]["ID"]
    ports = as_json(cloud, "port", "list", "--device-id", c1, **KUBE)
    assert len(ports) == 1
    fip = as_json(cloud, "floating", "ip", "create", "public", **KUBE)
    cloud.openstack("floating", "ip", "set", "--port", ports[0]["ID"], fip["id"], **KUBE)
    assert as_json(cloud, "floating", "ip", "show", fip["id"], **KUBE)["port_id"] == ports[0]["ID"]
    assert fip["floating_ip_address"] in json.dumps(as_json(cloud, "server", "show", "c-1", **KUBE)["addresses"])

    # Negative cases.
    fails(cloud, "network", "create", "--external", "notmine", **KUBE)
    fails(cloud, "flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", "tiny2", **KUBE)
    assert "overlap" in fails(cloud, "subnet", "create", "--subnet-range", "172.16.0.128/25", "--network", "kubenet", "again", **KUBE).lower()
    cloud.sh(
        "openstack network create tiny\n"
        "openstack subnet create --subnet-range 10.9.9.0/29 --allocation-pool start=10.9.9.2,end=10.9.9.3 --no-dhcp --network tiny tinysub\n"
        "openstack port create --network tiny p1\n"
        "openstack port create --network tiny p2\n",
        **KUBE,
    )
    assert "409" in fails(cloud, "port", "create", "--network", "tiny", "p3", **KUBE)
    assert "409" in fails(cloud, "network", "delete", "kubenet", **KUBE)
    # Another project's server and network are invisible.
    # (The CLI turns the 404 into "No ... found".)
    assert "No Server found" in fails(cloud, "server", "show", c1, user="demo", project="demo")
    kubenet = as_json(cloud, "network", "show", "kubenet", **KUBE)["id"]
    assert "No Network found" in fails(cloud, "network", "show", kubenet, user="demo", project="demo")

    # Everything survives a restart.
    cloud.kill(signal.SIGKILL)
    cloud.start()
    servers = wait_for_servers(cloud, ["master1", "worker1", "c-1", "c-2"], **KUBE)
    assert ip_master in servers["master1"]["Networks"]["kubenet"]
    assert len(as_json(cloud, "security", "group", "rule", "list", "kubesg", **KUBE)) == len(rules)


def test_devstack_default_resources(cloud):
    networks = {n["Name"]: n for n in as_json(cloud, "network", "list")}
    assert {"public", "shared", "private"} <= set(networks)
    public = as_json(cloud, "network", "show", "public")
    assert public["router:external"] is True or public["router:external"] == "External"
    subnets = {s["Name"] for s in as_json(cloud, "subnet", "list")}
    assert {"public-subnet", "private-subnet"} <= subnets
    router = as_json(cloud, "router", "show", "router1", user="demo", project="demo")
    assert router["external_gateway_info"]["network_id"] == public["id"]
    flavors = {f["Name"]: f for f in as_json(cloud, "flavor", "list")}
    assert flavors["ds4G"]["RAM"] == 4096 and flavors["ds4G"]["VCPUs"] == 4 and flavors["ds4G"]["ID"] == "d4"
    assert flavors["m1.nano"]["ID"] == "42"
