# Two network namespaces joined by a veth, for the benchmark scripts (sourced).
#   netns_pair PREFIX NET   creates ${PREFIX}a (NET.1/24) and ${PREFIX}b (NET.2/24), loopback up.
# The caller's EXIT trap deletes both (ip netns del), which also removes the veth.
netns_pair() {
  local p=$1 net=$2
  ip netns add "${p}a"
  ip netns add "${p}b"
  ip link add "${p}x" netns "${p}a" type veth peer name "${p}y" netns "${p}b"
  ip -n "${p}a" addr add "$net.1/24" dev "${p}x"
  ip -n "${p}b" addr add "$net.2/24" dev "${p}y"
  local n
  for n in "${p}a" "${p}b"; do ip -n "$n" link set lo up; done
  ip -n "${p}a" link set "${p}x" up
  ip -n "${p}b" link set "${p}y" up
}
