#!/usr/bin/env bash
# cluster.sh up <name> | down <name> | kubeconfig <name> | prepare
#
# `prepare` builds (or finds) every image `up` needs and stops there: make test runs it in the
# background while the other tests run, so a cold machine builds its images beside them.
#
# `up` makes a kind cluster laid out like a provider's: a control plane and workers labelled as
# datacenters of two countries (zone/region/country labels, as test/harness/topology.ts labels the kwok
# nodes), kube-router as CNI and NetworkPolicy engine, and per datacenter a StorageClass
# `datacenter-storage` of statically provisioned ReadWriteMany volumes: host directories mounted into every
# node of that datacenter and no other, so a space's replicas share a volume on distinct nodes, as
# CephFS or Longhorn RWX volumes would. Our image (built from the Dockerfile) is loaded into the nodes.
# Prints the kubeconfig path. Images come from images.sh (built here offline, or upstream ones).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

command=${1:?usage: cluster.sh up|down|kubeconfig <name> | prepare}
[ "$command" = prepare ] || name=${2:?usage: cluster.sh up|down|kubeconfig <name> | prepare}
name=${name:-}
dir="$KIND_CACHE/clusters/$name"
kubeconfig="$dir/kubeconfig"
cp_bin="$kind_root/.cache/controlplane/bin"
kind_bin="$KIND_CACHE/bin"
export PATH="$kind_bin:$cp_bin:$PATH"

# Workers: zone region country. Two nodes in Milan and Frankfurt (spaces with two replicas), one in Rome.
workers=(
  "it-mil1 it-north IT" "it-mil1 it-north IT"
  "it-rom1 it-central IT"
  "de-fra1 de-central DE" "de-fra1 de-central DE"
)
volumes_per_datacenter=${KIND_VOLUMES_PER_DATACENTER:-12}

case "$command" in
  kubeconfig) echo "$kubeconfig"; exit 0 ;;
  down)
    if command -v kind >/dev/null && docker info >/dev/null 2>&1; then kind delete cluster --name "$name" >&2 || true; fi
    rm -rf "$dir"
    exit 0 ;;
  up|prepare) ;;
  *) echo "usage: cluster.sh up|down|kubeconfig <name> | prepare" >&2; exit 2 ;;
esac

bash "$here/dockerd.sh"
# Not `mapfile < <(...)`: a process substitution hides images.sh's failure.
if ! images_out=$(bash "$here/images.sh"); then
  echo "error: hack/kind/images.sh could not build or find the kind images (its errors are above)" >&2
  exit 1
fi
mapfile -t images <<<"$images_out"
if [ "${#images[@]}" -ne 3 ]; then
  echo "error: hack/kind/images.sh printed ${#images[@]} lines, not 3 (node, kube-router, node24 images): $images_out" >&2
  exit 1
fi
node_image=${images[0]} kube_router_image=${images[1]} node24_image=${images[2]}
bash "$kind_root/hack/controlplane/build.sh" >/dev/null
[ -x "$kind_bin/kind" ] || bash "$here/binaries.sh" >/dev/null
operator_image=$(bash "$here/operator-image.sh" "$node24_image")
client_image=$(bash "$here/client-image.sh" "$node24_image")
if [ "$command" = prepare ]; then
  kind_log "images ready: $node_image $kube_router_image $operator_image $client_image"
  exit 0
fi

rm -rf "$dir" && mkdir -p "$dir"
{
  echo "kind: Cluster"
  echo "apiVersion: kind.x-k8s.io/v1alpha4"
  echo "networking:"
  echo "  disableDefaultCNI: true"
  echo "  podSubnet: 10.244.0.0/16"
  echo "  serviceSubnet: 10.96.0.0/16"
  if machine_is_cgroup_v1; then
    # kubelet 1.37 refuses cgroup v1 hosts unless told otherwise.
    echo "kubeadmConfigPatches:"
    echo "  - |"
    echo "    kind: KubeletConfiguration"
    echo "    failCgroupV1: false"
  fi
  echo "nodes:"
  echo "  - role: control-plane"
  for worker in "${workers[@]}"; do
    read -r zone region country <<<"$worker"
    mkdir -p "$dir/volumes/$zone"
    echo "  - role: worker"
    echo "    labels: {topology.kubernetes.io/zone: $zone, topology.kubernetes.io/region: $region, tenantbackup.io/country: $country}"
    echo "    extraMounts: [{hostPath: $dir/volumes/$zone, containerPath: /var/datacenter-volumes/$zone}]"
  done
} >"$dir/kind.yaml"

kind_log "creating cluster $name from $node_image"
started=$SECONDS
kind create cluster --name "$name" --image "$node_image" --config "$dir/kind.yaml" --kubeconfig "$kubeconfig" >"$dir/create.log" 2>&1 || {
  echo "error: kind create cluster failed; its log: $dir/create.log" >&2; tail -30 "$dir/create.log" >&2; exit 1; }
export KUBECONFIG=$kubeconfig
kind load docker-image --name "$name" "$kube_router_image" "$operator_image" "$client_image" >"$dir/load.log" 2>&1
sed "s|IMAGE|$kube_router_image|g" "$here/kube-router.yaml" | kubectl apply -f - >/dev/null
kubectl wait --for=condition=Ready nodes --all --timeout=300s >/dev/null

# Datacenter volumes: one StorageClass, static RWX volumes per datacenter, each pinned to its datacenter.
{
  echo "apiVersion: storage.k8s.io/v1"
  echo "kind: StorageClass"
  echo "metadata: {name: datacenter-storage}"
  echo "provisioner: kubernetes.io/no-provisioner"
  echo "volumeBindingMode: WaitForFirstConsumer"
  echo "reclaimPolicy: Retain"
  for zone in $(printf '%s\n' "${workers[@]}" | awk '{print $1}' | sort -u); do
    for i in $(seq 1 "$volumes_per_datacenter"); do
      # Writable by the gateways' non-root user; the directory is the volume.
      mkdir -p "$dir/volumes/$zone/vol-$i" && chmod 0777 "$dir/volumes/$zone/vol-$i"
      echo "---"
      echo "apiVersion: v1"
      echo "kind: PersistentVolume"
      echo "metadata: {name: $zone-vol-$i, labels: {topology.kubernetes.io/zone: $zone}}"
      echo "spec:"
      echo "  capacity: {storage: 200Gi}"
      echo "  accessModes: [ReadWriteMany, ReadWriteOnce]"
      echo "  persistentVolumeReclaimPolicy: Retain"
      echo "  storageClassName: datacenter-storage"
      echo "  hostPath: {path: /var/datacenter-volumes/$zone/vol-$i, type: Directory}"
      echo "  nodeAffinity:"
      echo "    required:"
      echo "      nodeSelectorTerms: [{matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [$zone]}]}]"
    done
  done
} | kubectl apply -f - >/dev/null
echo "$operator_image" >"$dir/operator-image"
echo "$client_image" >"$dir/client-image"
kind_log "cluster $name ready in $((SECONDS - started))s (kubeconfig $kubeconfig, operator image $operator_image)"
echo "$kubeconfig"
