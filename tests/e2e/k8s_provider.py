"""A replay of what the Kubernetes OpenStack cloud provider sends to OpenStack
for one Service of type LoadBalancer: create, node change, delete.

Not a test file: helpers for one. The replay speaks HTTP through the
openstacksdk Connection's authenticated keystoneauth session, with the
paths, query strings, bodies and accepted status codes that
cloud-provider-openstack (pkg/openstack/loadbalancer.go and
pkg/util/openstack/loadbalancer.go, gophercloud v2.12.0 underneath) uses.
It was written by reading those sources; no code or text is copied.

Endpoints, as gophercloud builds them from the catalog URL (a trailing
slash is added first):
  * load-balancer resources: the URL with any "v2.0/" removed, then
    "v2.0/" appended -> <lb>/v2.0/lbaas/...   (NewLoadBalancerV2)
  * the version probe: the URL cut before its first "v<digits/dots>" path
    segment, with exactly one trailing slash -> GET <lb>/  (apiversions.List)
  * network resources: the URL plus "v2.0/" -> <net>/v2.0/...  (NewNetworkV2)

What each step mirrors (provider function names):

ensure_service  = EnsureLoadBalancer -> ensureOctaviaLoadBalancer
  1. checkService: with no subnet-id configured, getSubnetIDForLB on the
     first node: GET <net>/v2.0/ports?device_id=<server id> (getAttachedPorts)
     and the fixed IP equal to the node's address names the subnet, used
     for the VIP and for the members.
     External network: openstackutil.GetFloatingNetworkID:
     GET <net>/v2.0/networks (no filter), then for each network with
     router:external true and a non-empty "subnets",
     GET <net>/v2.0/subnets?network_id=<id>; the first such network with an
     IPv4 subnet (or a subnet the caller cannot see) wins.
  2. makeSvcConf -> IsOctaviaFeatureSupported -> getOctaviaVersion:
     GET <lb>/ once per provider process (cached); the LAST entry of
     "versions" is taken as the current version. Features: tags >= 2.5,
     timeouts >= 2.1, allowed_cidrs (VIP ACL) >= 2.12, flavors >= 2.6,
     availability zones >= 2.14.
  3. Without the load-balancer-id annotation (first sync):
     getLoadbalancerByName: GET <lb>/v2.0/lbaas/loadbalancers?name=
     kube_service_<cluster>_<namespace>_<name>; if that list is empty, the
     legacy name "a"+UID without dashes, cut to 32 characters
     (cloudprovider.DefaultLoadBalancerName). LBs in DELETED or
     PENDING_DELETE are ignored; more than one left is an error.
     With the annotation (later syncs): GetLoadbalancerByID, GET by id.
  4. Not found: createOctaviaLoadBalancer, one fully populated
     POST <lb>/v2.0/lbaas/loadbalancers (listeners with default_pool with
     members and healthmonitor, built by buildListenerCreateOpt,
     buildPoolCreateOpt, buildCreateMemberOpts/buildBatchUpdateMemberOpts,
     buildMonitorCreateOpts), then WaitActiveAndGetLoadBalancer: GET by id
     right away and then after 1s, 1.2s, 1.44s, ... (23 tries); ERROR fails
     (the provider then deletes the LB, as deleteLoadBalancer does).
  5. The LB must be ACTIVE. GetListenersByLoadBalancerID:
     GET <lb>/v2.0/lbaas/listeners?loadbalancer_id=<id> (always, also right
     after the create).
  6. Existing LB only: per port ensureOctaviaListener (compares tags,
     connection_limit, insert_headers X-Forwarded-For, default TLS ref,
     the four timeouts, allowed_cidrs; PUT when any differs),
     ensureOctaviaPool (GetPoolByListener: GET pools?loadbalancer_id= and
     the pool whose "listeners" holds the listener id; protocol and
     lb_algorithm compared; GET .../pools/<id>/members and a batch PUT when
     the set of name-address-protocol_port-monitor_port differs),
     ensureOctaviaHealthMonitor (GET the pool's healthmonitor_id; compares
     type, name, delay, timeout, max_retries, max_retries_down), then
     deleteOctaviaListeners for listeners no port uses any more. Every
     write is followed by WaitActiveAndGetLoadBalancer.
  7. ensureFloatingIP (IPv4 VIP only): GetFloatingIPByPortID
     GET <net>/v2.0/floatingips?port_id=<vip_port_id>; the first one found
     is used; otherwise POST <net>/v2.0/floatingips with
     floating_network_id, port_id=<vip_port_id> and the description
     "Floating IP for Kubernetes external service <ns>/<name> from cluster
     <cluster>". No external network found: no FIP, the VIP is advertised.
  8. Tags supported and the LB's tags lack the LB name:
     UpdateLoadBalancerTags, PUT the LB with {"tags": [...old, name]}, wait.
  9. manage-security-groups false: ensureSecurityGroupDeleted,
     GET <net>/v2.0/security-groups?name=lb-sg-<uid>-<ns>-<name>
     (gophercloud/utils IDFromName); none expected here.

update_members  = UpdateLoadBalancer -> updateOctaviaLoadBalancer
  checkServiceUpdate (no subnet-id: GET ports?device_id=<first node>),
  GetLoadbalancerByID, must be ACTIVE, GET listeners?loadbalancer_id=,
  then per port the listener of (protocol, port) must exist, and
  ensureOctaviaPool + ensureOctaviaHealthMonitor as in step 6: the batch
  PUT <lb>/v2.0/lbaas/pools/<pool id>/members {"members": [...]} (only 202
  is accepted) followed by the wait for ACTIVE.

delete_service  = EnsureLoadBalancerDeleted -> ensureLoadBalancerDeleted
  GetLoadbalancerByID (404: nothing to do), must be ACTIVE or ERROR, the
  name starts with kube_service_ so the provider owns it; FIRST the
  floating IP: GET floatingips?port_id=<vip_port_id> and
  deleteFIPIfCreatedByProvider deletes it only if its description contains
  "Floating IP for Kubernetes external service"; THEN deleteLoadBalancer
  with cascade-delete: DeleteLoadbalancer,
  DELETE <lb>/v2.0/lbaas/loadbalancers/<id>?cascade=true (202/204, 404 ok)
  and waitLoadbalancerDeleted, GET by id until 404 (24 tries of the same
  backoff; any other error ends it); last ensureSecurityGroupDeleted.

Provider options the replay assumes (the provider's own defaults from
pkg/openstack/openstack.go, except create-monitor):
  lb-provider = "amphora" (the default; sent as "provider" in the create)
  lb-method = ROUND_ROBIN, create-monitor = TRUE (default false) with
  monitor-delay 5s, monitor-timeout 3s, monitor-max-retries 1,
  monitor-max-retries-down 3, cascade-delete = true, internal-lb = false,
  manage-security-groups = false, provider-requires-serial-api-calls =
  false, max-shared-lb = 2, no flavor, no availability zone, no
  floating-network-id (autodetected; `floating_network_id=` overrides),
  subnet-id = the `subnet_id` argument (None: autodetected from the first
  node's port), no member-subnet-id, no LB classes.
The Service: no annotations, externalTrafficPolicy Cluster (so TCP
monitors, no monitor_port), sessionAffinity None, no loadBalancerIP, no
loadBalancerSourceRanges (so allowed_cidrs ["0.0.0.0/0"]), IPv4, TCP
ports only, nodes with InternalIP addresses and providerID
openstack:///<server id>.

Status checks: every response is checked against the status codes
gophercloud accepts for that call (GET 200, list pages 200/204/300, POST
201/202, PUT 201/202 except LB/listener/monitor updates 200/202, pool
update 200 and the batch member PUT 202 only, DELETE 202/204), and a
mismatch raises ProviderReplayError carrying the request log. Where the
provider itself shrugs a failure off, so does the replay, visibly in the
log: failed GETs while waiting for ACTIVE (polling goes on), 404 on the
LB/pool/listener/monitor DELETEs, a failed member list (treated as no
members, so the batch PUT follows), a failed lb_algorithm update.
Deviation on purpose: the provider only logs a failed version probe (and
then sends as for version 0.0); the replay fails loudly instead.

Usage in a test:
    svc = ensure_service(conn, "kubernetes", "default", "web",
                         [(server1, ip1, "n-1"), (server2, ip2, "n-2")],
                         [("TCP", 80, 30080)])
    svc = update_members(conn, svc, [(server2, ip2, "n-2"), (server3, ip3, "n-3")])
    delete_service(conn, svc)
    print(format_log(request_log(conn)))
provider_for(conn, wait_delay=0.2, wait_factor=1.0, active_steps=600)
before the first call polls faster than the provider's backoff.
"""

import copy
import ipaddress
import json
import re
import time
import urllib.parse
import uuid
import weakref
from typing import NamedTuple, Optional

SERVICE_PREFIX = "kube_service_"
FIP_DESCRIPTION_MARK = "Floating IP for Kubernetes external service"


class ProviderReplayError(AssertionError):
    """A response the provider would not have accepted."""


class Call(NamedTuple):
    """One request of the replay: method, path (with query), status, and
    the JSON body sent (None when there was none)."""

    method: str
    path: str
    status: int
    body: Optional[dict] = None

    def __str__(self):
        text = f"{self.method} {self.path} -> {self.status}"
        if self.body is not None:
            text += " " + json.dumps(self.body, sort_keys=True)
        return text


def format_log(calls):
    """The calls, one a line, for a test to print."""
    return "\n".join(str(c) for c in calls)


def _sprintf255(text):
    return text[:255]


def _version_tuple(version_id):
    match = re.match(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", version_id or "")
    if not match:
        return (0, 0, 0)
    return tuple(int(part or 0) for part in match.groups())


class _Backoff:
    """k8s wait.ExponentialBackoff as the provider configures it: the
    condition runs at once, then after delay, delay*factor, ... for at
    most `steps` runs."""

    def __init__(self, delay, factor, steps):
        self.delay, self.factor, self.steps = delay, factor, steps

    def run(self, condition):
        delay = self.delay
        for step in range(self.steps):
            if condition():
                return True
            if step == self.steps - 1:
                break
            time.sleep(delay)
            delay *= self.factor
        return False


class K8sProvider:
    """One cloud-controller-manager process: its options, its cached
    Octavia version, and the log of every request it sent."""

    def __init__(
        self,
        conn,
        *,
        lb_provider="amphora",
        lb_method="ROUND_ROBIN",
        create_monitor=True,
        monitor_delay=5,
        monitor_timeout=3,
        monitor_max_retries=1,
        monitor_max_retries_down=3,
        cascade_delete=True,
        floating_network_id="",
        wait_delay=1.0,
        wait_factor=1.2,
        active_steps=23,
        delete_steps=24,
        log=None,
    ):
        self.conn = conn
        self.lb_provider = lb_provider
        self.lb_method = lb_method
        self.create_monitor = create_monitor
        self.monitor_delay = monitor_delay
        self.monitor_timeout = monitor_timeout
        self.monitor_max_retries = monitor_max_retries
        self.monitor_max_retries_down = monitor_max_retries_down
        self.cascade_delete = cascade_delete
        self.floating_network_id = floating_network_id
        self.wait_delay, self.wait_factor = wait_delay, wait_factor
        self.active_steps, self.delete_steps = active_steps, delete_steps
        self.log = [] if log is None else log
        self.octavia_version = None

        lb_url = self._normalize(conn.endpoint_for("load-balancer"))
        net_url = self._normalize(conn.endpoint_for("network"))
        self.lb_base = lb_url.replace("v2.0/", "") + "v2.0/"
        self.lb_versions = self._base_endpoint(lb_url).rstrip("/") + "/"
        self.net_base = net_url + "v2.0/"

    # -- HTTP -----------------------------------------------------------

    @staticmethod
    def _normalize(url):
        if not url:
            raise ProviderReplayError("endpoint missing from the catalog")
        return url if url.endswith("/") else url + "/"

    @staticmethod
    def _base_endpoint(url):
        parts = urllib.parse.urlsplit(url)
        path = parts.path
        match = re.search(r"v[0-9.]+/?", path)
        if match:
            path = path[: match.start()]
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    @staticmethod
    def _query(**params):
        pairs = [(k, v) for k, v in params.items() if v not in (None, "")]
        return ("?" + urllib.parse.urlencode(pairs)) if pairs else ""

    def _request(self, method, url, ok, body=None, tolerate=()):
        headers = {"Accept": "application/json"}
        sent = copy.deepcopy(body)
        response = self.conn.session.request(
            url, method, json=body, headers=headers, raise_exc=False
        )
        split = urllib.parse.urlsplit(url)
        path = split.path + (("?" + split.query) if split.query else "")
        self.log.append(Call(method, path, response.status_code, sent))
        if response.status_code not in ok and response.status_code not in tolerate:
            raise ProviderReplayError(
                f"{method} {path} answered {response.status_code}, the provider accepts "
                f"{sorted(ok)}: {response.text[:2000]}\nrequests so far:\n{format_log(self.log)}"
            )
        if response.status_code in (204,) or not response.content:
            return response.status_code, None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    def _get(self, url, ok=(200,), tolerate=()):
        return self._request("GET", url, ok, tolerate=tolerate)

    def _list(self, url, key):
        """gophercloud's AllPages over a linked pager: follows the
        <key>_links rel=next links; a page accepts 200, 204 and 300."""
        items = []
        while url:
            status, doc = self._get(url, ok=(200, 204, 300))
            if status == 204 or doc is None:
                break
            page = doc.get(key) or []
            if not page:
                break
            items.extend(page)
            url = None
            for link in doc.get(key + "_links") or []:
                if link.get("rel") == "next":
                    url = link.get("href")
        return items

    # -- Octavia version -------------------------------------------------

    def _probe(self):
        if self.octavia_version is None:
            # apiversions.List: one page (no links followed), 200/204/300.
            _, doc = self._get(self.lb_versions, ok=(200, 204, 300))
            versions = (doc or {}).get("versions") or []
            if not versions:
                raise ProviderReplayError(f"no Octavia versions at {self.lb_versions}")
            self.octavia_version = versions[-1].get("id", "")
        return self.octavia_version

    def supports(self, feature):
        current = _version_tuple(self._probe())
        minimum = {
            "tags": (2, 5),
            "vip_acl": (2, 12),
            "flavors": (2, 6),
            "timeout": (2, 1),
            "availability_zones": (2, 14),
            "http_monitors_on_udp": (2, 16),
        }[feature]
        if self.lb_provider == "ovn" and feature != "tags":
            return False
        return current[:2] >= minimum

    # -- load balancer helpers (pkg/util/openstack/loadbalancer.go) -----

    def _lb_url(self, *parts):
        return self.lb_base + "lbaas/" + "/".join(parts)

    def get_lb(self, lb_id, tolerate=()):
        status, doc = self._get(self._lb_url("loadbalancers", lb_id), tolerate=tolerate)
        if status != 200:
            return None
        return doc["loadbalancer"]

    def list_lbs(self, name):
        return self._list(self._lb_url("loadbalancers") + self._query(name=name), "loadbalancers")

    def wait_active(self, lb_id):
        """WaitActiveAndGetLoadBalancer: failed GETs are only logged and
        the polling goes on; ERROR ends it with an error."""
        found = {}

        def active():
            status, doc = self._request(
                "GET", self._lb_url("loadbalancers", lb_id), ok=(200,), tolerate=range(400, 600)
            )
            if status != 200:
                return False
            found["lb"] = doc["loadbalancer"]
            state = found["lb"].get("provisioning_status")
            if state == "ERROR":
                raise _LbError(found["lb"])
            return state == "ACTIVE"

        backoff = _Backoff(self.wait_delay, self.wait_factor, self.active_steps)
        if not backoff.run(active):
            raise ProviderReplayError(
                f"timeout waiting for the loadbalancer {lb_id} ACTIVE (last seen: "
                f"{found.get('lb', {}).get('provisioning_status')})\n{format_log(self.log)}"
            )
        return found["lb"]

    def wait_deleted(self, lb_id):
        """waitLoadbalancerDeleted: 404 ends it; another error fails."""

        def gone():
            status, _ = self._request(
                "GET", self._lb_url("loadbalancers", lb_id), ok=(200,), tolerate=(404,)
            )
            return status == 404

        backoff = _Backoff(self.wait_delay, self.wait_factor, self.delete_steps)
        if not backoff.run(gone):
            raise ProviderReplayError(f"loadbalancer {lb_id} failed to delete within the allotted time")

    def list_listeners(self, lb_id):
        return self._list(self._lb_url("listeners") + self._query(loadbalancer_id=lb_id), "listeners")

    def pool_by_listener(self, lb_id, listener_id):
        pools = self._list(self._lb_url("pools") + self._query(loadbalancer_id=lb_id), "pools")
        matching = [p for p in pools if any(l.get("id") == listener_id for l in p.get("listeners") or [])]
        if len(matching) > 1:
            raise ProviderReplayError(f"more than one pool for listener {listener_id}")
        return matching[0] if matching else None

    def delete_lb(self, lb_id, cascade):
        url = self._lb_url("loadbalancers", lb_id) + ("?cascade=true" if cascade else "")
        self._request("DELETE", url, ok=(202, 204), tolerate=(404,))
        self.wait_deleted(lb_id)

    # -- network helpers -------------------------------------------------

    def _net_url(self, resource, *parts):
        return self.net_base + "/".join((resource,) + parts)

    def subnet_for_node(self, node):
        """getSubnetIDForLB: the subnet of the fixed IP equal to the node's
        address, among the ports whose device_id is the node's server."""
        ports = self._list(self._net_url("ports") + self._query(device_id=node.server_id), "ports")
        for port in ports:
            for fixed in port.get("fixed_ips") or []:
                if fixed.get("ip_address") == node.address:
                    return fixed.get("subnet_id")
        raise ProviderReplayError(
            f"no subnet-id found: no port of server {node.server_id} has {node.address}\n{format_log(self.log)}"
        )

    def floating_network(self):
        """GetFloatingNetworkID."""
        if self.floating_network_id:
            return self.floating_network_id
        for network in self._list(self._net_url("networks"), "networks"):
            if not network.get("router:external") or not network.get("subnets"):
                continue
            visible = {
                s.get("id"): s
                for s in self._list(self._net_url("subnets") + self._query(network_id=network["id"]), "subnets")
            }
            for subnet_id in network["subnets"]:
                subnet = visible.get(subnet_id)
                if subnet is None or subnet.get("ip_version") == 4:
                    return network["id"]
        return ""

    def fip_by_port(self, port_id):
        fips = self._list(self._net_url("floatingips") + self._query(port_id=port_id), "floatingips")
        return fips[0] if fips else None

    def security_group_absent(self, svc):
        name = _sprintf255(f"lb-sg-{svc['uid']}-{svc['namespace']}-{svc['name']}")
        groups = self._list(self._net_url("security-groups") + self._query(name=name), "security_groups")
        if any(g.get("name") == name for g in groups):
            raise ProviderReplayError(
                f"security group {name} exists; the replay does not disassociate and delete it"
            )

    # -- request bodies ---------------------------------------------------

    def _timeouts(self):
        return {
            "timeout_client_data": 50000,
            "timeout_member_data": 50000,
            "timeout_member_connect": 5000,
            "timeout_tcp_inspect": 0,
        }

    def listener_body(self, svc, index, port):
        body = {
            "name": _sprintf255(f"listener_{index}_{svc['lb_name']}"),
            "protocol": port.protocol,
            "protocol_port": port.port,
            "connection_limit": -1,
        }
        if self.supports("tags"):
            body["tags"] = [svc["lb_name"]]
        if self.supports("timeout"):
            body.update(self._timeouts())
        if self.supports("vip_acl"):
            body["allowed_cidrs"] = ["0.0.0.0/0"]
        return body

    def pool_body(self, svc, index, protocol):
        return {
            "name": _sprintf255(f"pool_{index}_{svc['lb_name']}"),
            "protocol": protocol,
            "lb_algorithm": self.lb_method,
        }

    def member_bodies(self, svc, port, nodes):
        """buildBatchUpdateMemberOpts (and, the same fields, the members of
        a fully populated create)."""
        members = []
        for node in nodes:
            if port.node_port == 0:
                continue
            member = {"address": node.address, "protocol_port": port.node_port, "name": node.name}
            if svc["member_subnet_id"]:
                member["subnet_id"] = svc["member_subnet_id"]
            members.append(member)
        return members

    def member_keys(self, port, nodes):
        return {f"{n.name}-{n.address}-{port.node_port}-0" for n in nodes if port.node_port != 0}

    def monitor_body(self, svc, index, port):
        return {
            "name": _sprintf255(f"monitor_{index}_{svc['lb_name']}"),
            "type": "UDP-CONNECT" if port.protocol == "UDP" else port.protocol,
            "delay": self.monitor_delay,
            "timeout": self.monitor_timeout,
            "max_retries": self.monitor_max_retries,
            "max_retries_down": self.monitor_max_retries_down,
        }

    # -- the provider's flows ----------------------------------------------

    def _service(self, cluster, namespace, name, nodes, ports, subnet_id, uid):
        uid = uid or str(uuid.uuid4())
        return {
            "cluster": cluster,
            "namespace": namespace,
            "name": name,
            "uid": uid,
            "lb_name": _sprintf255(f"{SERVICE_PREFIX}{cluster}_{namespace}_{name}"),
            "legacy_name": ("a" + uid).replace("-", "")[:32],
            "nodes": _nodes(nodes),
            "ports": _ports(ports),
            "config_subnet_id": subnet_id or "",
            "lb_id": None,
            "log": self.log,
        }

    def ensure(self, cluster, namespace, name, nodes, ports, subnet_id=None, uid=None, service=None):
        svc = dict(service) if service else self._service(cluster, namespace, name, nodes, ports, subnet_id, uid)
        if service:
            svc["nodes"], svc["ports"] = _nodes(nodes), _ports(ports)
        nodes, ports = svc["nodes"], svc["ports"]
        if not nodes:
            raise ProviderReplayError("there are no available nodes for the LoadBalancer service")
        if not ports:
            raise ProviderReplayError("no service ports provided")

        # checkService
        if svc["config_subnet_id"]:
            svc["vip_subnet_id"] = svc["member_subnet_id"] = svc["config_subnet_id"]
        else:
            subnet = self.subnet_for_node(nodes[0])
            svc["vip_subnet_id"] = svc["member_subnet_id"] = subnet
        public_network = self.floating_network()
        # makeSvcConf: the features (and the one version probe)
        self._probe()

        created = False
        if svc.get("lb_id"):
            lb = self.get_lb(svc["lb_id"])
            if lb["name"] != svc["lb_name"]:
                raise ProviderReplayError("shared or renamed load balancers are not replayed")
        else:
            lb = self._by_name(svc)
            if lb is None:
                lb = self._create(svc, public_network)
                created = True
        svc["lb_id"] = lb["id"]
        if lb.get("provisioning_status") != "ACTIVE":
            raise ProviderReplayError(
                f"load balancer {lb['id']} is not ACTIVE, current provisioning status: "
                f"{lb.get('provisioning_status')}"
            )
        listeners = self.list_listeners(lb["id"])

        if not created:
            self._reconcile_listeners(svc, lb, listeners)
            listeners = None  # the provider does not list them again

        address = lb.get("vip_address")
        svc["vip_address"] = address
        svc["vip_port_id"] = lb.get("vip_port_id")
        svc["floating_ip"] = svc["floating_ip_id"] = None
        if address and ipaddress.ip_address(address).version == 6:
            pass  # IPv6 VIPs get no floating IP
        else:
            fip = self._ensure_fip(svc, lb, public_network)
            if fip:
                svc["floating_ip"], svc["floating_ip_id"] = fip["floating_ip_address"], fip["id"]

        if self.supports("tags"):
            tags = list(lb.get("tags") or [])
            if svc["lb_name"] not in tags:
                tags.append(svc["lb_name"])
                self._request(
                    "PUT", self._lb_url("loadbalancers", lb["id"]), ok=(200, 202),
                    body={"loadbalancer": {"tags": tags}},
                )
                self.wait_active(lb["id"])

        self.security_group_absent(svc)

        # Not sent by the provider: what the caller gets back comes from
        # responses already read, except the pool ids after a reconcile.
        if listeners is not None:
            by_key = {(l.get("protocol"), l.get("protocol_port")): l for l in listeners}
            svc["listener_ids"] = [by_key.get((p.protocol, p.port), {}).get("id") for p in ports]
            svc["pool_ids"] = [by_key.get((p.protocol, p.port), {}).get("default_pool_id") for p in ports]
        return svc

    def _by_name(self, svc):
        found = self.list_lbs(svc["lb_name"])
        if not found:
            found = self.list_lbs(svc["legacy_name"])
        valid = [lb for lb in found if lb.get("provisioning_status") not in ("DELETED", "PENDING_DELETE")]
        if len(valid) > 1:
            raise ProviderReplayError(f"more than one load balancer named {svc['lb_name']}")
        return valid[0] if valid else None

    def create_body(self, svc):
        body = {
            "name": svc["lb_name"],
            "description": (
                f"Kubernetes external service {svc['namespace']}/{svc['name']} from cluster {svc['cluster']}"
            ),
            "vip_subnet_id": svc["vip_subnet_id"],
        }
        if self.lb_provider:
            body["provider"] = self.lb_provider
        if self.supports("tags"):
            body["tags"] = [svc["lb_name"]]
        listeners = []
        for index, port in enumerate(svc["ports"]):
            listener = self.listener_body(svc, index, port)
            pool = self.pool_body(svc, index, listener["protocol"])
            members = self.member_bodies(svc, port, svc["nodes"])
            if members:
                pool["members"] = members
            if self.create_monitor:
                pool["healthmonitor"] = self.monitor_body(svc, index, port)
            listener["default_pool"] = pool
            listeners.append(listener)
        body["listeners"] = listeners
        return {"loadbalancer": body}

    def _create(self, svc, public_network):
        _, doc = self._request(
            "POST", self._lb_url("loadbalancers"), ok=(201, 202), body=self.create_body(svc)
        )
        lb_id = doc["loadbalancer"]["id"]
        try:
            return self.wait_active(lb_id)
        except _LbError as error:
            # createOctaviaLoadBalancer removes an LB that went to ERROR
            # (deleteLoadBalancer only: its floating IP is not looked at).
            self._remove_lb(error.lb)
            raise ProviderReplayError(
                f"loadbalancer {lb_id} has gone into ERROR state; it was deleted\n{format_log(self.log)}"
            ) from None

    def _reconcile_listeners(self, svc, lb, listeners):
        """The existing-LB part of ensureOctaviaLoadBalancer."""
        current = {(l.get("protocol"), l.get("protocol_port")): l for l in listeners}
        for port in svc["ports"]:
            listener = current.get((port.protocol, port.port))
            if listener is not None:
                tags = listener.get("tags") or []
                if not (svc["lb_name"] in tags or not tags):
                    raise ProviderReplayError(f"the listener port {port.port} already exists")
        leftover = list(listeners)
        svc["listener_ids"], svc["pool_ids"] = [], []
        for index, port in enumerate(svc["ports"]):
            listener = self._ensure_listener(svc, lb["id"], index, port, current)
            pool = self._ensure_pool(svc, lb["id"], index, port, listener, svc["nodes"])
            self._ensure_monitor(svc, lb["id"], index, port, pool)
            leftover = [l for l in leftover if l["id"] != listener["id"]]
            svc["listener_ids"].append(listener["id"])
            svc["pool_ids"].append(pool["id"])
        for listener in leftover:
            tags = listener.get("tags") or []
            if not tags or svc["lb_name"] in tags:
                pool = self.pool_by_listener(lb["id"], listener["id"])
                if pool is not None:
                    self._request("DELETE", self._lb_url("pools", pool["id"]), ok=(202, 204), tolerate=(404,))
                    self.wait_active(lb["id"])
                self._request(
                    "DELETE", self._lb_url("listeners", listener["id"]), ok=(202, 204), tolerate=(404,)
                )
                self.wait_active(lb["id"])

    def _ensure_listener(self, svc, lb_id, index, port, current):
        listener = current.get((port.protocol, port.port))
        if listener is None:
            body = dict(self.listener_body(svc, index, port), loadbalancer_id=lb_id)
            _, doc = self._request("POST", self._lb_url("listeners"), ok=(201, 202), body={"listener": body})
            self.wait_active(lb_id)
            return doc["listener"]
        update = {}
        if self.supports("tags") and svc["lb_name"] not in (listener.get("tags") or []):
            # The provider copies the old tags into a nil slice: only its own
            # tag is sent.
            update["tags"] = [svc["lb_name"]]
        if listener.get("connection_limit") != -1:
            update["connection_limit"] = -1
        headers = dict(listener.get("insert_headers") or {})
        if headers.get("X-Forwarded-For") == "true":
            headers.pop("X-Forwarded-For")
            update["insert_headers"] = headers
        if listener.get("default_tls_container_ref") or "":
            update["default_tls_container_ref"] = ""
        if self.supports("timeout"):
            for key, value in self._timeouts().items():
                if (listener.get(key) or 0) != value:
                    update[key] = value
        if self.supports("vip_acl"):
            wanted, have = ["0.0.0.0/0"], listener.get("allowed_cidrs") or []
            if not (len(wanted) == len(have) and set(wanted) == set(have)):
                update["allowed_cidrs"] = wanted
        if update:
            self._request(
                "PUT", self._lb_url("listeners", listener["id"]), ok=(200, 202), body={"listener": update}
            )
            self.wait_active(lb_id)
        return listener

    def _ensure_pool(self, svc, lb_id, index, port, listener, nodes):
        """ensureOctaviaPool, with the batch member update."""
        pool = self.pool_by_listener(lb_id, listener["id"])
        protocol = listener.get("protocol")
        if pool is not None and pool.get("protocol") != protocol:
            self._request("DELETE", self._lb_url("pools", pool["id"]), ok=(202, 204), tolerate=(404,))
            self.wait_active(lb_id)
            pool = None
        if pool is not None and pool.get("lb_algorithm") != self.lb_method:
            # The provider only records an event when this update fails.
            status, _ = self._request(
                "PUT", self._lb_url("pools", pool["id"]), ok=(200,), tolerate=range(400, 600),
                body={"pool": {"lb_algorithm": self.lb_method}},
            )
            if status == 200:
                self.wait_active(lb_id)
        if pool is None:
            body = dict(self.pool_body(svc, index, protocol), listener_id=listener["id"])
            _, doc = self._request("POST", self._lb_url("pools"), ok=(201, 202), body={"pool": body})
            self.wait_active(lb_id)
            pool = doc["pool"]

        # GetMembersbyPool: a failure is only logged, the set is then empty.
        current = set()
        try:
            members = self._list_tolerant(self._lb_url("pools", pool["id"], "members"), "members")
        except ProviderReplayError:
            members = []
        for m in members:
            current.add(f"{m.get('name') or ''}-{m.get('address')}-{m.get('protocol_port')}-{m.get('monitor_port') or 0}")
        if current != self.member_keys(port, nodes):
            self._request(
                "PUT", self._lb_url("pools", pool["id"], "members"), ok=(202,),
                body={"members": self.member_bodies(svc, port, nodes)},
            )
            self.wait_active(lb_id)
        return pool

    def _list_tolerant(self, url, key):
        status, doc = self._request("GET", url, ok=(200, 204, 300), tolerate=range(400, 600))
        if status not in (200, 204, 300) or doc is None:
            return []
        items = list(doc.get(key) or [])
        for link in doc.get(key + "_links") or []:
            if link.get("rel") == "next":
                items.extend(self._list(link["href"], key))
        return items

    def _ensure_monitor(self, svc, lb_id, index, port, pool):
        monitor_id = pool.get("healthmonitor_id") or ""
        wanted = self.monitor_body(svc, index, port)
        if not monitor_id:
            if not self.create_monitor:
                return
            self._request(
                "POST", self._lb_url("healthmonitors"), ok=(201, 202),
                body={"healthmonitor": dict(wanted, pool_id=pool["id"])},
            )
            self.wait_active(lb_id)
            return
        if not self.create_monitor:
            self._request("DELETE", self._lb_url("healthmonitors", monitor_id), ok=(202, 204), tolerate=(404,))
            self.wait_active(lb_id)
            return
        _, doc = self._get(self._lb_url("healthmonitors", monitor_id))
        monitor = doc["healthmonitor"]
        if monitor.get("type") != wanted["type"]:
            self._request("DELETE", self._lb_url("healthmonitors", monitor_id), ok=(202, 204), tolerate=(404,))
            self.wait_active(lb_id)
            self._request(
                "POST", self._lb_url("healthmonitors"), ok=(201, 202),
                body={"healthmonitor": dict(wanted, pool_id=pool["id"])},
            )
            self.wait_active(lb_id)
            return
        keys = ("name", "delay", "timeout", "max_retries", "max_retries_down")
        if any(monitor.get(k) != wanted[k] for k in keys):
            # gophercloud's UpdateOpts drop zero integers (omitempty).
            update = {k: wanted[k] for k in keys if k == "name" or wanted[k]}
            self._request(
                "PUT", self._lb_url("healthmonitors", monitor_id), ok=(200, 202), body={"healthmonitor": update}
            )
            self.wait_active(lb_id)

    def _ensure_fip(self, svc, lb, public_network):
        """ensureFloatingIP for an external Service owning its LB."""
        port_id = lb.get("vip_port_id")
        fip = self.fip_by_port(port_id)
        if fip is not None:
            return fip
        if not public_network:
            return None
        body = {
            "floatingip": {
                "description": (
                    f"{FIP_DESCRIPTION_MARK} {svc['namespace']}/{svc['name']} from cluster {svc['cluster']}"
                ),
                "floating_network_id": public_network,
                "port_id": port_id,
            }
        }
        _, doc = self._request("POST", self._net_url("floatingips"), ok=(201, 202), body=body)
        return doc["floatingip"]

    def update(self, service, nodes):
        """updateOctaviaLoadBalancer."""
        svc = dict(service)
        svc["nodes"] = nodes = _nodes(nodes)
        if not svc["ports"]:
            raise ProviderReplayError("no ports provided to openstack load balancer")
        # checkServiceUpdate
        if svc["config_subnet_id"]:
            svc["member_subnet_id"] = svc["config_subnet_id"]
        elif nodes:
            svc["member_subnet_id"] = self.subnet_for_node(nodes[0])
        else:
            svc["member_subnet_id"] = ""
        self._probe()

        lb = self.get_lb(svc["lb_id"])
        if lb.get("provisioning_status") != "ACTIVE":
            raise ProviderReplayError(
                f"load balancer {lb['id']} is not ACTIVE, current provisioning status: "
                f"{lb.get('provisioning_status')}"
            )
        listeners = {(l.get("protocol"), l.get("protocol_port")): l for l in self.list_listeners(lb["id"])}
        # Pools and monitors are named after the LB's own name here.
        named = dict(svc, lb_name=lb["name"])
        pool_ids = []
        for index, port in enumerate(svc["ports"]):
            listener = listeners.get((port.protocol, port.port))
            if listener is None:
                raise ProviderReplayError(
                    f"loadbalancer {lb['id']} does not contain required listener for port {port.port} "
                    f"and protocol {port.protocol}"
                )
            pool = self._ensure_pool(named, lb["id"], index, port, listener, nodes)
            self._ensure_monitor(named, lb["id"], index, port, pool)
            pool_ids.append(pool["id"])
        svc["pool_ids"] = pool_ids
        return svc

    def delete(self, service):
        """ensureLoadBalancerDeleted."""
        svc = service
        self._probe()  # checkServiceDelete asks whether tags are supported
        if svc.get("lb_id"):
            lb = self.get_lb(svc["lb_id"], tolerate=(404,))
        else:
            lb = self._by_name(svc)
        if lb is None:
            return
        if lb.get("provisioning_status") not in ("ACTIVE", "ERROR"):
            raise ProviderReplayError(
                f"load balancer {lb['id']} is in immutable status, current provisioning status: "
                f"{lb.get('provisioning_status')}"
            )
        self._delete_lb(svc, lb)
        self.security_group_absent(svc)

    def _delete_lb(self, svc, lb):
        created_by_occm = lb.get("name", "").startswith(SERVICE_PREFIX)
        shared = False
        if self.supports("tags"):
            shared = any(t != svc["lb_name"] and t.startswith(SERVICE_PREFIX) for t in lb.get("tags") or [])
        if shared or not created_by_occm:
            raise ProviderReplayError("shared or foreign load balancers are not replayed")
        if lb.get("vip_port_id"):
            fip = self.fip_by_port(lb["vip_port_id"])
            if fip is not None and FIP_DESCRIPTION_MARK in (fip.get("description") or ""):
                self._request("DELETE", self._net_url("floatingips", fip["id"]), ok=(202, 204))
        self._remove_lb(lb)

    def _remove_lb(self, lb):
        """deleteLoadBalancer for an LB the Service owns alone."""
        if self.cascade_delete:
            self.delete_lb(lb["id"], cascade=True)
            return
        # deleteLoadBalancer without cascade: monitors, pools, listeners, LB.
        listeners = self.list_listeners(lb["id"])
        pools = []
        for listener in listeners:
            pool = self.pool_by_listener(lb["id"], listener["id"])
            if pool is not None and pool.get("healthmonitor_id"):
                pools.append(pool["healthmonitor_id"])
        for monitor_id in pools:
            self._request("DELETE", self._lb_url("healthmonitors", monitor_id), ok=(202, 204), tolerate=(404,))
            self.wait_active(lb["id"])
        for listener in listeners:
            pool = self.pool_by_listener(lb["id"], listener["id"])
            if pool is not None:
                self._request("DELETE", self._lb_url("pools", pool["id"]), ok=(202, 204), tolerate=(404,))
                self.wait_active(lb["id"])
            self._request("DELETE", self._lb_url("listeners", listener["id"]), ok=(202, 204), tolerate=(404,))
            self.wait_active(lb["id"])
        self.delete_lb(lb["id"], cascade=False)


class _LbError(Exception):
    def __init__(self, lb):
        super().__init__(f"loadbalancer {lb.get('id')} has gone into ERROR state")
        self.lb = lb


class Node(NamedTuple):
    server_id: str
    address: str
    name: str


class Port(NamedTuple):
    protocol: str
    port: int
    node_port: int


def _nodes(nodes):
    """(server_id, address) or (server_id, address, node name); the name
    (the member name) defaults to the server id."""
    result = []
    for node in nodes:
        if isinstance(node, Node):
            result.append(node)
        elif len(node) == 3:
            result.append(Node(*node))
        else:
            result.append(Node(node[0], node[1], node[0]))
    return result


def _ports(ports):
    return [p if isinstance(p, Port) else Port(str(p[0]).upper(), int(p[1]), int(p[2])) for p in ports]


# One provider per Connection, as one cloud-controller-manager process: the
# version probe is cached across its calls and its log is shared.
_PROVIDERS = weakref.WeakKeyDictionary()


def provider_for(conn, **options):
    """The replaying provider of this connection (made on first use with
    `options`, see K8sProvider)."""
    provider = _PROVIDERS.get(conn)
    if provider is None:
        provider = K8sProvider(conn, **options)
        _PROVIDERS[conn] = provider
    return provider


def ensure_service(conn, cluster, namespace, name, nodes, ports, subnet_id=None, *, uid=None, service=None):
    """EnsureLoadBalancer for Service NAMESPACE/NAME of CLUSTER.

    nodes: [(server_id, node_address[, node_name])]; ports: [("TCP", port,
    node_port)]; subnet_id: the provider's `subnet-id` option (None:
    autodetected from the first node's port). `service`: a dict this
    function returned before, for a later sync (the Service then carries
    the load-balancer-id annotation). Returns the Service as a dict with
    lb_id, lb_name, vip_address, vip_port_id, floating_ip, floating_ip_id,
    listener_ids, pool_ids (per port), uid and "log", the request list.
    """
    return provider_for(conn).ensure(cluster, namespace, name, nodes, ports, subnet_id, uid, service)


def update_members(conn, service, nodes):
    """UpdateLoadBalancer after the Service's nodes changed: the batch
    member PUT for every pool whose member set differs. Returns the
    updated Service dict."""
    return provider_for(conn).update(service, nodes)


def delete_service(conn, service):
    """EnsureLoadBalancerDeleted: the provider's floating IP first, then the
    cascade delete and the wait until the LB answers 404."""
    provider_for(conn).delete(service)


def request_log(conn):
    """Every request sent through this connection's provider, as Call
    tuples (method, path, status, body)."""
    return provider_for(conn).log


if __name__ == "__main__":
    # Manual use against a cloud from OS_CLOUD or OS_* variables:
    #   python k8s_provider.py SERVER_ID=ADDRESS[=NAME] ... [--port 80:30080]
    #       [--subnet-id ID] [--cluster kubernetes] [--keep]
    import argparse

    import openstack

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nodes", nargs="+", help="SERVER_ID=ADDRESS[=NODE_NAME]; the last one is "
                        "dropped and the rest kept in the node-change step")
    parser.add_argument("--port", action="append", default=[], help="PORT:NODE_PORT (TCP), repeatable")
    parser.add_argument("--subnet-id", default=None)
    parser.add_argument("--cluster", default="kubernetes")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--name", default="replay")
    parser.add_argument("--fast", action="store_true", help="poll every 0.2s instead of the provider's backoff")
    parser.add_argument("--keep", action="store_true", help="do not delete at the end")
    args = parser.parse_args()

    connection = openstack.connect()
    if args.fast:
        provider_for(connection, wait_delay=0.2, wait_factor=1.0, active_steps=1500, delete_steps=1500)
    node_list = [tuple(n.split("=")) for n in args.nodes]
    port_list = [("TCP", int(p.split(":")[0]), int(p.split(":")[1])) for p in (args.port or ["80:30080"])]
    service = None
    try:
        service = ensure_service(
            connection, args.cluster, args.namespace, args.name,
            node_list[:-1] or node_list, port_list, args.subnet_id,
        )
        print("ensured:", {k: v for k, v in service.items() if k != "log"})
        if len(node_list) > 1:
            # a node added (the last one) and one removed (the first one)
            service = update_members(connection, service, node_list[1:])
            print("members updated")
    finally:
        if service is not None and not args.keep:
            delete_service(connection, service)
            print("deleted")
        print(format_log(request_log(connection)))
