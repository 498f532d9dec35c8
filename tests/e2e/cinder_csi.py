"""A replay of what the Kubernetes Cinder CSI plugin sends to OpenStack for
one PersistentVolume's life: create, attach, (node stage/publish in the
guest), online expand, detach, delete.

Not a test file: helpers for one. The replay speaks HTTP through the
openstacksdk Connection's authenticated keystoneauth session, with the
paths, query strings, bodies, microversion headers and accepted status
codes that cloud-provider-openstack's cinder-csi-plugin
(pkg/csi/cinder/controllerserver.go, nodeserver.go, openstack/openstack.go,
openstack_volumes.go, openstack_instances.go, pkg/util/mount/mount.go;
gophercloud v2.12.0 underneath: blockstorage/v3/volumes,
compute/v2/servers, compute/v2/volumeattach) uses. It was written by
reading those sources; no code or text is copied.

Endpoints, as gophercloud finds them: the first catalog entry whose type
is block-storage or one of its aliases (block-store, volume, volumev2,
volumev3), resp. compute, with a "public" endpoint (and the region, when
the cloud has one configured); a trailing slash is added. Every path below
is relative to that: <volume>/volumes/..., <compute>/servers/...

Microversion headers. gophercloud sends a microversion only where the
plugin sets one on its (copied) service client, and then sends BOTH
  block storage: X-OpenStack-Volume-API-Version: 3.NN and
                 OpenStack-API-Version: volume 3.NN
  compute:       X-OpenStack-Nova-API-Version: 2.NN and
                 OpenStack-API-Version: compute 2.NN
Everything else goes without a microversion header (the base version:
cinder 3.0, nova 2.1). The plugin option ignore-volume-microversion
(default false) drops the 3.34 on the name lookup and makes the in-use
resize fail before any request.

What each step mirrors (plugin function names):

create_volume = CreateVolume
  1. GetVolumesByName: GET <volume>/volumes/detail?name=<name> at volume
     3.34 (name filtering); pages followed over "volumes_links" rel=next,
     each page accepts 200/204/300. One volume of the same size: it is
     returned as is, no POST (idempotent retry); one of another size:
     AlreadyExists; more than one: an error.
  2. CreateVolume: POST <volume>/volumes, no microversion, only 202
     accepted (413 is reported as quota exceeded), body
       {"volume": {"name": <name>, "size": <GiB>,
                   "description": "Created by OpenStack Cinder CSI driver",
                   "metadata": {"cinder.csi.openstack.org/cluster": <cluster>,
                                "csi.storage.k8s.io/pvc/name": ...,
                                "csi.storage.k8s.io/pvc/namespace": ...,
                                "csi.storage.k8s.io/pv/name": <name>},
                   ["volume_type": ..., "availability_zone": ...]}}
     (empty fields are omitted; the three csi.storage.k8s.io keys come from
     the external-provisioner's --extra-create-metadata, which the stock
     manifests and chart enable; the cluster id is the --cluster flag,
     "kubernetes" in the manifests and the chart; availability_zone is the
     StorageClass "availability" parameter or, with topology, the zone of
     the node the provisioner prefers).
  The plugin does NOT wait for the new volume: CreateVolume returns right
  after the POST with the volume as the POST answered it (status
  "creating" on a real Cinder). wait_available=True adds polls shaped like
  WaitVolumeTargetStatus(["available"]) that the plugin does not send;
  they are logged with step "not-plugin:wait-available".

publish = ControllerPublishVolume
  1. GetVolume: GET <volume>/volumes/<vid> (404: NotFound, the end).
  2. GetInstanceByID: GET <compute>/servers/<sid> (404: NotFound).
  3. AttachVolume: GET <volume>/volumes/<vid> again; an attachment whose
     server_id is the server already: no POST. Otherwise
     POST <compute>/servers/<sid>/os-volume_attachments
       {"volumeAttachment": {"volumeId": <vid>}}
     only 200 accepted; no compute microversion, except 2.60 when the
     volume says "multiattach": true.
  4. WaitDiskAttached: GET the volume at once, then after 1s, 1.2s,
     1.44s, ... (15 GETs at most, about 60s): done as soon as an entry of
     "attachments" has server_id == <sid> (the status is NOT looked at
     here); a 404 is shrugged off (polling goes on), any other error ends
     it.
  5. GetAttachmentDiskPath: GET the volume once more; its status must now
     be "in-use" (else an error) and the matching attachment's "device"
     (e.g. /dev/vdb) is the publish context's DevicePath.
  So the server should flip the status to in-use no later than it lists
  the attachment.

device_candidates / pick_device = NodeStageVolume / NodePublishVolume's
  getDevicePath -> Mount.GetDevicePath -> getDevicePathBySerialID (in the
  guest, done over ssh by the caller): the candidates, in the source's
  order, under /dev/disk/by-id/: virtio-<id[:20]>, virtio-<id>,
  scsi-0QEMU_QEMU_HARDDISK_<id[:20]>, scsi-0QEMU_QEMU_HARDDISK_<id>,
  wwn-0x<id without dashes>. The plugin walks the directory listing (sorted
  by name) and takes the first entry equal to any candidate; between tries
  it rescans SCSI hosts and runs "udevadm trigger" (10 tries, 1s growing
  by 1.1). None found: the device of the volume in the metadata service's
  meta_data.json "devices" (serial = volume id). The DevicePath from the
  publish context is not used to find the disk.

expand = ControllerExpandVolume
  1. GetVolume: GET the volume (404: NotFound). size >= the new size: done,
     no request (already expanded).
  2. ExpandVolume by the status just read: "in-use" ->
     POST <volume>/volumes/<vid>/action {"os-extend": {"new_size": N}} at
     volume 3.42; "available" -> the same POST without a microversion;
     any other status -> an error, no request. Only 202 accepted.
  3. WaitVolumeTargetStatus(["available", "in-use"]): GET the volume at
     once, then after 1s, 1.1s, 1.21s, ... (10 GETs at most, about 14s);
     done on either status; "error", "error_extending" or
     "error_deleting" fail; any GET error fails. The size is NOT checked:
     a server that keeps answering "in-use" right after the 202 (instead of
     "extending" until the resize is done) ends the wait at the first GET,
     before the disk grew; NodeExpandVolume then resizes the filesystem
     on the node.

unpublish = ControllerUnpublishVolume
  1. GetInstanceByID: GET <compute>/servers/<sid>; 404: done (the node is
     gone), nothing else is sent.
  2. DetachVolume: GET the volume (404: done). "available" or "detaching":
     no DELETE. Any other status but "in-use": an error. "in-use" with an
     attachment naming the server:
       DELETE <compute>/servers/<sid>/os-volume_attachments/<vid>
     no microversion, 202/204 accepted; a 404 here is an error (gophercloud's
     error is wrapped into a plain one, so it is not seen as NotFound).
  3. WaitDiskDetached: GET the volume at once, then after 1s, 1.2s, ...
     (13 GETs at most, about 40s) until no attachment names the server (the
     status is NOT looked at); a 404 ends it as done, another error fails.

delete_volume = DeleteVolume
  1. diskIsUsed: GET the volume (404: done, "already deleted"); the first
     attachment having a server_id: an error ("still attached").
  2. DELETE <volume>/volumes/<vid> (no query, no microversion), 202/204;
     404: done. The plugin does not wait for the volume to go away;
     wait_gone=True adds GETs until 404 (step "not-plugin:wait-gone").

Response shapes the plugin decodes (gophercloud parses every volume it
GETs/lists/creates, the server of GetInstanceByID and the attachment the
POST answers): the replay checks a volume's fields against the Go types,
because a mismatch is an error in the plugin: "size" an integer,
"status"/"name"/"bootable" (a STRING, "false"/"true") and the attachment
ids strings, "multiattach"/"encrypted" booleans, "metadata" an object of
strings, "attachments" a list, and "created_at", "updated_at" and
attachments' "attached_at" in gophercloud's RFC3339MilliNoZ layout:
"2006-01-02T15:04:05" with an optional fraction and NO zone suffix ("Z" or
"+00:00" fails to parse). The POST os-volume_attachments answer must be
{"volumeAttachment": {...}} with string id/device/volumeId/serverId.

Every request lands in the log as a Call (method, path with query,
status, JSON body sent, microversion header value, step = the plugin
function that sent it), so a test can assert the exact sequence:
    csi = csi_for(conn)
    vol = csi.create_volume(volume_name(), 1, wait_available=True)
    device = csi.publish(vol["id"], server_id)
    ... ssh: find pick_device(vol["id"], listing), mkfs, mount ...
    csi.expand(vol["id"], 2)
    csi.unpublish(vol["id"], server_id)
    csi.delete_volume(vol["id"])
    print(format_log(request_log(conn)))
csi_for(conn, fast=True) before the first call polls every 0.2s (with
enough tries for the same total time budget, or more) instead of the
plugin's backoff.
"""

import copy
import json
import re
import time
import urllib.parse
import uuid
import weakref
from typing import NamedTuple, Optional

GIB = 1024 ** 3
VOLUME_DESCRIPTION = "Created by OpenStack Cinder CSI driver"
CLUSTER_KEY = "cinder.csi.openstack.org/cluster"
PVC_NAME_KEY = "csi.storage.k8s.io/pvc/name"
PVC_NAMESPACE_KEY = "csi.storage.k8s.io/pvc/namespace"
PV_NAME_KEY = "csi.storage.k8s.io/pv/name"
TOPOLOGY_KEY = "topology.cinder.csi.openstack.org/zone"

# Microversions the plugin pins.
MV_LIST_BY_NAME = "3.34"
MV_EXTEND_IN_USE = "3.42"
MV_MULTIATTACH = "2.60"

AVAILABLE, IN_USE, DETACHING = "available", "in-use", "detaching"
ERROR_STATES = ("error", "error_extending", "error_deleting")

BLOCK_STORAGE_TYPES = ("block-storage", "block-store", "volume", "volumev2", "volumev3")
COMPUTE_TYPES = ("compute",)
BY_ID = "/dev/disk/by-id/"

# gophercloud RFC3339MilliNoZ as Go's time.Parse applies it: an optional
# fraction of any length, nothing after it.
_NOZ_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[.,]\d+)?$")


class CsiReplayError(AssertionError):
    """A response the plugin would not have accepted, or a state it would
    have reported as an error."""


class Call(NamedTuple):
    """One request of the replay."""

    method: str
    path: str
    status: int
    body: Optional[dict] = None
    microversion: Optional[str] = None
    step: str = ""

    def __str__(self):
        text = f"{self.method} {self.path} -> {self.status}"
        if self.microversion:
            text += f" [mv {self.microversion}]"
        if self.body is not None:
            text += " " + json.dumps(self.body, sort_keys=True)
        if self.step:
            text += f"  ({self.step})"
        return text


def format_log(calls):
    """The calls, one a line, for a test to print."""
    return "\n".join(str(c) for c in calls)


def volume_name():
    """A name as the external-provisioner gives it (prefix "pvc", a dash,
    the PVC's UID); it is also the PV's name."""
    return f"pvc-{uuid.uuid4()}"


def device_candidates(volume_id):
    """getDevicePathBySerialID's candidates, in the source's order, as
    full /dev/disk/by-id/ paths."""
    short = volume_id[:20]
    names = [
        f"virtio-{short}",
        f"virtio-{volume_id}",
        f"scsi-0QEMU_QEMU_HARDDISK_{short}",
        f"scsi-0QEMU_QEMU_HARDDISK_{volume_id}",
        "wwn-0x" + volume_id.replace("-", ""),
    ]
    return [BY_ID + n for n in names]


def pick_device(volume_id, by_id_names):
    """The path the node plugin settles on, given the entries of
    /dev/disk/by-id/ (names or full paths, e.g. `ls /dev/disk/by-id`
    output split): the first entry in name order equal to any candidate,
    or None (the plugin would then rescan, retry, and last ask the
    metadata service)."""
    wanted = {c[len(BY_ID):] for c in device_candidates(volume_id)}
    names = sorted(n.rsplit("/", 1)[-1] for n in by_id_names if n and n.strip())
    for name in names:
        if name in wanted:
            return BY_ID + name
    return None


class _Backoff:
    """k8s wait.ExponentialBackoff: the condition runs at once, then after
    delay, delay*factor, ... for at most `steps` runs."""

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


# The plugin's backoffs (openstack_volumes.go): (first delay, factor, runs).
OPERATION_FINISH = (1.0, 1.1, 10)
DISK_ATTACH = (1.0, 1.2, 15)
DISK_DETACH = (1.0, 1.2, 13)


def _budget(backoff):
    delay, factor, steps = backoff
    return sum(delay * factor ** i for i in range(steps - 1))


def _fast(backoff, interval=0.2, minimum=60.0):
    """A flat backoff with at least the plugin's total wait, and at least
    `minimum` seconds, for a slower test cloud."""
    total = max(_budget(backoff), minimum)
    return (interval, 1.0, int(total / interval) + 2)


class CinderCSI:
    """One cinder-csi-plugin controller (plus the node part that finds the
    disk): its options and the log of every request it sent."""

    def __init__(
        self,
        conn,
        *,
        cluster_id="kubernetes",
        ignore_volume_microversion=False,
        fast=False,
        operation_backoff=None,
        attach_backoff=None,
        detach_backoff=None,
        log=None,
    ):
        self.conn = conn
        self.cluster_id = cluster_id
        self.ignore_volume_microversion = ignore_volume_microversion
        if fast:
            operation_backoff = operation_backoff or _fast(OPERATION_FINISH)
            attach_backoff = attach_backoff or _fast(DISK_ATTACH)
            detach_backoff = detach_backoff or _fast(DISK_DETACH)
        self.operation_backoff = operation_backoff or OPERATION_FINISH
        self.attach_backoff = attach_backoff or DISK_ATTACH
        self.detach_backoff = detach_backoff or DISK_DETACH
        self.log = [] if log is None else log
        self.volume_url = self._endpoint(BLOCK_STORAGE_TYPES, "block-storage")
        self.compute_url = self._endpoint(COMPUTE_TYPES, "compute")

    # -- endpoints ------------------------------------------------------

    def _endpoint(self, types, service_type):
        """V3EndpointURL: the first catalog entry of one of `types` with a
        public endpoint (in the configured region, if any)."""
        region = getattr(getattr(self.conn, "config", None), "region_name", None) or ""
        url = None
        try:
            access = self.conn.session.auth.get_access(self.conn.session)
            catalog = access.service_catalog.catalog or []
        except Exception:  # fall back to keystoneauth's lookup below
            catalog = []
        for entry in catalog:
            if entry.get("type") not in types:
                continue
            for endpoint in entry.get("endpoints") or []:
                if endpoint.get("interface") != "public":
                    continue
                if region and region not in (endpoint.get("region"), endpoint.get("region_id")):
                    continue
                url = endpoint.get("url")
                break
            if url:
                break
        if not url:
            url = self.conn.session.get_endpoint(service_type=service_type, interface="public")
        if not url:
            raise CsiReplayError(f"no public {service_type} endpoint in the catalog")
        return url if url.endswith("/") else url + "/"

    def _volumes(self, *parts):
        return self.volume_url + "/".join(("volumes",) + parts)

    def _servers(self, *parts):
        return self.compute_url + "/".join(("servers",) + parts)

    # -- HTTP -------------------------------------------------------------

    def _request(self, method, url, ok, *, step, body=None, service=None, microversion=None, tolerate=()):
        headers = {"Accept": "application/json"}
        if microversion:
            if service == "volume":
                headers["X-OpenStack-Volume-API-Version"] = microversion
            elif service == "compute":
                headers["X-OpenStack-Nova-API-Version"] = microversion
            headers["OpenStack-API-Version"] = f"{service} {microversion}"
        sent = copy.deepcopy(body)
        response = self.conn.session.request(url, method, json=body, headers=headers, raise_exc=False)
        split = urllib.parse.urlsplit(url)
        path = split.path + (("?" + split.query) if split.query else "")
        self.log.append(Call(method, path, response.status_code, sent, microversion, step))
        if response.status_code not in ok and response.status_code not in tolerate:
            raise CsiReplayError(
                f"{step}: {method} {path} answered {response.status_code}, the plugin accepts "
                f"{sorted(ok)}: {response.text[:2000]}\nrequests so far:\n{format_log(self.log)}"
            )
        if response.status_code == 204 or not response.content:
            return response.status_code, None
        try:
            return response.status_code, response.json()
        except ValueError:
            if response.status_code in ok:
                raise CsiReplayError(
                    f"{step}: {method} {path} answered {response.status_code} with a body that is not "
                    f"JSON: {response.text[:500]!r}"
                ) from None
            return response.status_code, None

    def _fail(self, message):
        raise CsiReplayError(f"{message}\nrequests so far:\n{format_log(self.log)}")

    # -- what gophercloud decodes -------------------------------------------

    def _check_volume(self, vol, step):
        problems = []

        def want(value, kinds, what):
            if value is not None and not isinstance(value, kinds):
                problems.append(f"{what} is {type(value).__name__} {value!r}")

        def when(value, what):
            if value not in (None, "") and not (isinstance(value, str) and _NOZ_TIME.match(value)):
                problems.append(f"{what} {value!r} does not parse as 2006-01-02T15:04:05.999999 (no zone)")

        if not isinstance(vol, dict):
            self._fail(f"{step}: the volume is not an object: {vol!r}")
        for key in ("id", "status", "name", "description", "availability_zone", "volume_type",
                    "snapshot_id", "source_volid", "user_id", "bootable", "replication_status",
                    "consistencygroup_id", "backup_id", "os-vol-host-attr:host",
                    "os-vol-tenant-attr:tenant_id"):
            want(vol.get(key), str, key)
        size = vol.get("size")
        if size is None or isinstance(size, bool) or not isinstance(size, int):
            problems.append(f"size is {size!r}, an integer expected")
        for key in ("multiattach", "encrypted"):
            want(vol.get(key), bool, key)
        for key in ("metadata", "volume_image_metadata"):
            value = vol.get(key)
            want(value, dict, key)
            if isinstance(value, dict):
                for k, v in value.items():
                    if v is not None and not isinstance(v, str):
                        problems.append(f"{key}[{k!r}] is {type(v).__name__} {v!r}, strings only")
        when(vol.get("created_at"), "created_at")
        when(vol.get("updated_at"), "updated_at")
        attachments = vol.get("attachments")
        want(attachments, list, "attachments")
        for i, att in enumerate(attachments or []):
            if not isinstance(att, dict):
                problems.append(f"attachments[{i}] is not an object")
                continue
            for key in ("attachment_id", "device", "host_name", "id", "server_id", "volume_id"):
                want(att.get(key), str, f"attachments[{i}].{key}")
            when(att.get("attached_at"), f"attachments[{i}].attached_at")
        if not vol.get("id"):
            problems.append("no id")
        if problems:
            self._fail(f"{step}: gophercloud would not decode volume {vol.get('id')}: " + "; ".join(problems))
        return vol

    def _volume_from(self, doc, step):
        if not isinstance(doc, dict) or "volume" not in doc:
            self._fail(f"{step}: no \"volume\" in the answer: {doc!r}")
        return self._check_volume(doc["volume"], step)

    # -- gophercloud calls the plugin makes -------------------------------

    def get_volume(self, volume_id, step, tolerate=()):
        """GetVolume: GET <volume>/volumes/<id>, 200; None when a tolerated
        status came back."""
        status, doc = self._request("GET", self._volumes(volume_id), (200,), step=step, tolerate=tolerate)
        if status != 200:
            return None
        return self._volume_from(doc, step)

    def volumes_by_name(self, name):
        """GetVolumesByName: volumes.List(ListOpts{Name}) at 3.34, AllPages."""
        mv = None if self.ignore_volume_microversion else MV_LIST_BY_NAME
        url = self._volumes("detail") + "?" + urllib.parse.urlencode({"name": name})
        found = []
        pages = 0
        while url:
            pages += 1
            if pages > 100:
                self._fail("GetVolumesByName: more than 100 pages, a next-link loop?")
            status, doc = self._request(
                "GET", url, (200, 204, 300), step="GetVolumesByName", service="volume", microversion=mv
            )
            if status == 204 or not isinstance(doc, dict):
                break
            page = doc.get("volumes")
            if not isinstance(page, list):
                self._fail(f"GetVolumesByName: no \"volumes\" list in the answer: {doc!r}")
            if not page:
                break
            found.extend(self._check_volume(v, "GetVolumesByName") for v in page)
            url = None
            for link in doc.get("volumes_links") or []:
                if link.get("rel") == "next" and link.get("href"):
                    url = link["href"]
        return found

    def get_server(self, server_id, step, tolerate=()):
        """GetInstanceByID: servers.Get, GET <compute>/servers/<id>, 200."""
        status, doc = self._request("GET", self._servers(server_id), (200,), step=step, tolerate=tolerate)
        if status != 200:
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("server"), dict):
            self._fail(f"{step}: no \"server\" in the answer: {doc!r}")
        return doc["server"]

    def wait_status(self, volume_id, statuses, step="WaitVolumeTargetStatus", backoff=None):
        """WaitVolumeTargetStatus: any GET error or an error state fails;
        returns the volume in one of `statuses`."""
        seen = {}

        def reached():
            vol = self.get_volume(volume_id, step)
            seen["volume"] = vol
            if vol.get("status") in statuses:
                return True
            if vol.get("status") in ERROR_STATES:
                self._fail(f"{step}: volume {volume_id} is in error state {vol.get('status')}")
            return False

        if not _Backoff(*(backoff or self.operation_backoff)).run(reached):
            last = seen.get("volume") or {}
            self._fail(
                f"{step}: timeout waiting for volume {volume_id} status to be in {list(statuses)} "
                f"(last: status {last.get('status')!r}, size {last.get('size')!r})"
            )
        return seen["volume"]

    def _attached_to(self, vol, server_id):
        return [a for a in vol.get("attachments") or [] if a.get("server_id") == server_id]

    # -- CreateVolume --------------------------------------------------------

    def create_volume(
        self,
        name,
        size_gib,
        cluster=None,
        *,
        pvc_name="data",
        pvc_namespace="default",
        extra_create_metadata=True,
        volume_type="",
        availability_zone="",
        wait_available=False,
    ):
        """CreateVolume for PV `name` (use volume_name()) of `size_gib` GiB
        (already rounded up). Returns a dict: id, name, size_gib,
        availability_zone, accessible_topology, created (False: an
        existing volume of that name was returned), volume (the volume as
        last seen)."""
        cluster = self.cluster_id if cluster is None else cluster
        existing = self.volumes_by_name(name)
        if len(existing) > 1:
            self._fail(f"CreateVolume: multiple volumes reported by Cinder with name {name!r}")
        if len(existing) == 1:
            vol = existing[0]
            if vol.get("size") != size_gib:
                self._fail(
                    f"CreateVolume: volume {name!r} already exists with size {vol.get('size')}, "
                    f"not {size_gib} (AlreadyExists)"
                )
            return self._create_result(vol, created=False)

        metadata = {CLUSTER_KEY: cluster}
        if extra_create_metadata:
            metadata[PVC_NAME_KEY] = pvc_name
            metadata[PVC_NAMESPACE_KEY] = pvc_namespace
            metadata[PV_NAME_KEY] = name
        body = {"size": int(size_gib), "description": VOLUME_DESCRIPTION, "metadata": metadata, "name": name}
        if availability_zone:
            body["availability_zone"] = availability_zone
        if volume_type:
            body["volume_type"] = volume_type
        status, doc = self._request(
            "POST", self._volumes(), (202,), step="CreateVolume", body={"volume": body}, tolerate=(413,)
        )
        if status == 413:
            self._fail(f"CreateVolume: quota exceeded (413) for {name!r}")
        vol = self._volume_from(doc, "CreateVolume")
        if wait_available:
            vol = self.wait_status(vol["id"], (AVAILABLE,), step="not-plugin:wait-available")
        return self._create_result(vol, created=True)

    @staticmethod
    def _create_result(vol, created):
        az = vol.get("availability_zone") or ""
        return {
            "id": vol["id"],
            "name": vol.get("name"),
            "size_gib": vol.get("size"),
            "capacity_bytes": (vol.get("size") or 0) * GIB,
            "availability_zone": az,
            "accessible_topology": [{TOPOLOGY_KEY: az}] if az else [],
            "created": created,
            "volume": vol,
        }

    # -- ControllerPublishVolume ----------------------------------------------

    def publish(self, volume_id, server_id):
        """ControllerPublishVolume: returns the attachment's device, the
        publish context's DevicePath."""
        step = "ControllerPublishVolume/GetVolume"
        if self.get_volume(volume_id, step, tolerate=(404,)) is None:
            self._fail(f"ControllerPublishVolume: volume {volume_id} not found (NotFound)")
        step = "ControllerPublishVolume/GetInstanceByID"
        if self.get_server(server_id, step, tolerate=(404,)) is None:
            self._fail(f"ControllerPublishVolume: instance {server_id} not found (NotFound)")

        vol = self.get_volume(volume_id, "AttachVolume/GetVolume")
        if not self._attached_to(vol, server_id):
            mv = MV_MULTIATTACH if vol.get("multiattach") else None
            _, doc = self._request(
                "POST", self._servers(server_id, "os-volume_attachments"), (200,), step="AttachVolume",
                service="compute", microversion=mv, body={"volumeAttachment": {"volumeId": vol["id"]}},
            )
            att = (doc or {}).get("volumeAttachment") if isinstance(doc, dict) else None
            if not isinstance(att, dict) or any(
                att.get(k) is not None and not isinstance(att.get(k), str)
                for k in ("id", "device", "volumeId", "serverId")
            ):
                self._fail(f"AttachVolume: gophercloud would not decode the attachment: {doc!r}")

        self._wait_attached(volume_id, server_id)

        vol = self.get_volume(volume_id, "GetAttachmentDiskPath")
        if vol.get("status") != IN_USE:
            self._fail(
                f"GetAttachmentDiskPath: can not get device path of volume {volume_id}, its status is "
                f"{vol.get('status')!r}"
            )
        attachments = vol.get("attachments") or []
        if not attachments:
            self._fail(f"GetAttachmentDiskPath: volume {volume_id} has no attachments")
        mine = self._attached_to(vol, server_id)
        if not mine:
            self._fail(f"GetAttachmentDiskPath: disk {volume_id} is not attached to compute {server_id}")
        return mine[0].get("device") or ""

    def _wait_attached(self, volume_id, server_id):
        """WaitDiskAttached: a 404 only means not yet."""
        seen = {}

        def attached():
            vol = self.get_volume(volume_id, "WaitDiskAttached", tolerate=(404,))
            seen["volume"] = vol
            return vol is not None and bool(self._attached_to(vol, server_id))

        if not _Backoff(*self.attach_backoff).run(attached):
            last = seen.get("volume") or {}
            self._fail(
                f"WaitDiskAttached: volume {volume_id!r} failed to be attached within the allotted time "
                f"(last: status {last.get('status')!r}, attachments {last.get('attachments')!r})"
            )

    # -- node side ----------------------------------------------------------------

    device_candidates = staticmethod(device_candidates)
    pick_device = staticmethod(pick_device)

    # -- ControllerExpandVolume ------------------------------------------------

    def expand(self, volume_id, new_size_gib):
        """ControllerExpandVolume to `new_size_gib` (already rounded up).
        Returns a dict: capacity_bytes, node_expansion_required (always
        True), expanded (False: the volume was already that big), volume
        (as last seen)."""
        vol = self.get_volume(volume_id, "ControllerExpandVolume/GetVolume", tolerate=(404,))
        if vol is None:
            self._fail(f"ControllerExpandVolume: volume {volume_id} not found (NotFound)")
        if vol.get("size") >= new_size_gib:
            return {
                "capacity_bytes": vol["size"] * GIB,
                "node_expansion_required": True,
                "expanded": False,
                "volume": vol,
            }
        status = vol.get("status")
        if status == IN_USE:
            if self.ignore_volume_microversion:
                self._fail("ExpandVolume: online resize needs microversion 3.42 (ignore-volume-microversion set)")
            mv = MV_EXTEND_IN_USE
        elif status == AVAILABLE:
            mv = None
        else:
            self._fail(f"ExpandVolume: volume cannot be resized when its status is {status!r}")
        self._request(
            "POST", self._volumes(volume_id, "action"), (202,), step="ExpandVolume", service="volume",
            microversion=mv, body={"os-extend": {"new_size": int(new_size_gib)}},
        )
        vol = self.wait_status(volume_id, (AVAILABLE, IN_USE))
        return {
            "capacity_bytes": int(new_size_gib) * GIB,
            "node_expansion_required": True,
            "expanded": True,
            "volume": vol,
        }

    # -- ControllerUnpublishVolume ---------------------------------------------

    def unpublish(self, volume_id, server_id):
        """ControllerUnpublishVolume. Returns how it ended: "node-gone",
        "volume-gone", "detached" (after the DELETE), "not-attached" (no
        DELETE was needed)."""
        step = "ControllerUnpublishVolume/GetInstanceByID"
        if self.get_server(server_id, step, tolerate=(404,)) is None:
            return "node-gone"

        vol = self.get_volume(volume_id, "DetachVolume/GetVolume", tolerate=(404,))
        if vol is None:
            return "volume-gone"
        status = vol.get("status")
        outcome = "not-attached"
        if status in (AVAILABLE, DETACHING):
            pass
        elif status != IN_USE:
            self._fail(f"DetachVolume: can not detach volume {volume_id}, its status is {status!r}")
        elif self._attached_to(vol, server_id):
            self._request(
                "DELETE", self._servers(server_id, "os-volume_attachments", vol["id"]), (202, 204),
                step="DetachVolume", service="compute",
            )
            outcome = "detached"

        seen = {}

        def detached():
            current = self.get_volume(volume_id, "WaitDiskDetached", tolerate=(404,))
            seen["volume"] = current
            if current is None:
                seen["gone"] = True
                return True
            return not self._attached_to(current, server_id)

        if not _Backoff(*self.detach_backoff).run(detached):
            last = seen.get("volume") or {}
            self._fail(
                f"WaitDiskDetached: volume {volume_id!r} failed to detach within the allotted time "
                f"(last: status {last.get('status')!r}, attachments {last.get('attachments')!r})"
            )
        return "volume-gone" if seen.get("gone") else outcome

    # -- DeleteVolume ---------------------------------------------------------

    def delete_volume(self, volume_id, wait_gone=False):
        """DeleteVolume. Returns "deleted" or "already-deleted" (a 404 from
        the check or from the DELETE)."""
        vol = self.get_volume(volume_id, "DeleteVolume/diskIsUsed", tolerate=(404,))
        if vol is None:
            return "already-deleted"
        attachments = vol.get("attachments") or []
        if attachments and (attachments[0].get("server_id") or ""):
            self._fail(f"DeleteVolume: cannot delete the volume {volume_id!r}, it's still attached to a node")
        status, _ = self._request(
            "DELETE", self._volumes(volume_id), (202, 204), step="DeleteVolume", tolerate=(404,)
        )
        if status == 404:
            return "already-deleted"
        if wait_gone:
            seen = {}

            def gone():
                current = self.get_volume(volume_id, "not-plugin:wait-gone", tolerate=(404,))
                seen["volume"] = current
                if current is not None and current.get("status") == "error_deleting":
                    self._fail(f"volume {volume_id} went to error_deleting")
                return current is None

            if not _Backoff(*self.operation_backoff).run(gone):
                last = seen.get("volume") or {}
                self._fail(f"volume {volume_id} still there after the delete (status {last.get('status')!r})")
        return "deleted"


# One plugin per Connection, as one controller process: its log is shared.
_PLUGINS = weakref.WeakKeyDictionary()


def csi_for(conn, **options):
    """The replaying plugin of this connection (made on first use with
    `options`, see CinderCSI; later calls ignore them)."""
    plugin = _PLUGINS.get(conn)
    if plugin is None:
        plugin = CinderCSI(conn, **options)
        _PLUGINS[conn] = plugin
    return plugin


def request_log(conn):
    """Every request sent through this connection's plugin, as Call tuples
    (method, path, status, body, microversion, step)."""
    return csi_for(conn).log


if __name__ == "__main__":
    # Manual use against a cloud from OS_CLOUD or OS_* variables:
    #   python cinder_csi.py SERVER_ID [--size 1] [--grow 2] [--fast] [--keep]
    import argparse

    import openstack

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server_id")
    parser.add_argument("--size", type=int, default=1)
    parser.add_argument("--grow", type=int, default=0, help="expand to this size while attached")
    parser.add_argument("--cluster", default="kubernetes")
    parser.add_argument("--fast", action="store_true", help="poll every 0.2s instead of the plugin's backoff")
    parser.add_argument("--keep", action="store_true", help="do not detach and delete at the end")
    args = parser.parse_args()

    connection = openstack.connect()
    csi = csi_for(connection, cluster_id=args.cluster, fast=args.fast)
    created = None
    published = False
    try:
        created = csi.create_volume(volume_name(), args.size, wait_available=True)
        print("created:", created["id"])
        print("device:", csi.publish(created["id"], args.server_id))
        published = True
        print("node looks for:", " ".join(device_candidates(created["id"])))
        if args.grow:
            print("expanded:", csi.expand(created["id"], args.grow)["expanded"])
    finally:
        if created is not None and not args.keep:
            if published:
                print("unpublished:", csi.unpublish(created["id"], args.server_id))
            print(csi.delete_volume(created["id"]))
        print(format_log(request_log(connection)))
