# shellcheck shell=bash
# Helpers for run.sh: namespaces, daemons, capture, background traffic.
# Everything here only touches the namespaces named $NSP-* that we create,
# and only kills PIDs we recorded.

NSP=${IKE_LAB_NSPREFIX:-ikelab}
CHROOT=${IKE_LAB_CHROOT:-/var/tmp/ike-lab-chroot}
LSWAN=${IKE_LAB_LIBRESWAN:-/var/tmp/ike-lab-libreswan}
LSWAN5=${IKE_LAB_LIBRESWAN5:-/var/tmp/ike-lab-libreswan5}
# hosts whose charon is the host's own strongSwan (Debian 12: 5.9.8) instead of
# the chroot's 6.0 (set by a scenario, e.g. SW_HOST_BINARIES=left)
SW_HOST_BINARIES=
WORK=${IKE_LAB_WORK:-/var/tmp/ike-lab-work}
PIDS=()
NETNS_MADE=()

# a sleep that a trapped signal (Ctrl-C, TERM) interrupts at once
nap() { sleep "$1" & NAP_PID=$!; wait "$NAP_PID"; }

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

apt_mirror() {
    # the Debian mirror the host's apt already uses (deb822 or one-line format)
    local m
    m=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -v -- '-security' | grep '/debian/*$' | head -n1)
    if [ -z "$m" ]; then
        m=$(grep -h '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '{for(i=2;i<=NF;i++) if ($i ~ /^https?:\/\//) {print $i; exit}}' | grep '/debian/*$' | head -n1)
    fi
    [ -n "$m" ] || die "cannot find the Debian mirror in the apt configuration"
    echo "$m"
}

ensure_tools() {
    local need=()
    command -v tcpdump >/dev/null || need+=(tcpdump)
    command -v tshark >/dev/null || need+=(tshark)
    command -v debootstrap >/dev/null || need+=(debootstrap)
    command -v curl >/dev/null || need+=(curl)
    command -v ping >/dev/null || need+=(iputils-ping)
    command -v ethtool >/dev/null || need+=(ethtool)
    command -v tcpreplay >/dev/null || need+=(tcpreplay)
    command -v iptables >/dev/null || need+=(iptables)
    command -v certutil >/dev/null || need+=(libnss3-tools)
    if [ ${#need[@]} -gt 0 ]; then
        apt-get install -y "${need[@]}"
    fi
}

ensure_chroot() {
    # strongSwan 6.0 from Debian 13: its kernel-libipsec sends plain ESP
    # (the 5.9 of Debian 12 only does ESP-in-UDP in userspace)
    if [ ! -x "$CHROOT/usr/lib/ipsec/charon" ]; then
        log "creating the strongSwan chroot in $CHROOT (debootstrap trixie)"
        debootstrap --variant=minbase trixie "$CHROOT" "$(apt_mirror)"
        printf '#!/bin/sh\nexit 101\n' >"$CHROOT/usr/sbin/policy-rc.d"
        chmod +x "$CHROOT/usr/sbin/policy-rc.d"
        mount -t proc proc "$CHROOT/proc"
        chroot "$CHROOT" apt-get install -y --no-install-recommends \
            strongswan-charon strongswan-swanctl libcharon-extra-plugins \
            libstrongswan-extra-plugins libstrongswan-standard-plugins strongswan-pki iproute2 ||
            { umount "$CHROOT/proc"; die "apt-get in chroot failed"; }
        umount "$CHROOT/proc"
    fi
}

ensure_libreswan() {
    # Libreswan conflicts with the strongswan packages: unpack the .deb aside
    if [ ! -x "$LSWAN/root/usr/libexec/ipsec/pluto" ]; then
        log "unpacking libreswan into $LSWAN"
        mkdir -p "$LSWAN"
        (cd "$LSWAN" && apt-get download libreswan && dpkg-deb -x libreswan_*.deb root)
        # runtime libraries of pluto (no conflict with anything)
        apt-get install -y libnss3 libnss3-tools libnspr4 libunbound8 libldns3 \
            libevent-core-2.1-7 libevent-pthreads-2.1-7 libcap-ng0 libcurl3-nss libaudit1 libldap-2.5-0
    fi
}

ensure_sw59() {
    # strongSwan 5.9.8, Debian 12's own package, on the host (no service is
    # started: the host's policy-rc.d refuses)
    if [ ! -x /usr/lib/ipsec/charon ]; then
        log "installing Debian 12's strongSwan on the host"
        apt-get install -y --no-install-recommends strongswan-charon strongswan-swanctl \
            libcharon-extra-plugins libstrongswan-standard-plugins libstrongswan-extra-plugins
    fi
}

ensure_libreswan5() {
    # Libreswan 5.x from Debian 13: unpacked like 4.10, but its binaries need
    # trixie's libraries, so pluto runs inside the strongSwan chroot, where only
    # its runtime libraries are installed (libreswan itself conflicts with the
    # strongswan packages there)
    if [ ! -x "$LSWAN5/root/usr/libexec/ipsec/pluto" ]; then
        log "unpacking Debian 13's libreswan into $LSWAN5"
        mkdir -p "$LSWAN5"
        chroot "$CHROOT" sh -c 'cd /tmp && apt-get download libreswan' &&
            mv "$CHROOT"/tmp/libreswan_*.deb "$LSWAN5/" &&
            (cd "$LSWAN5" && dpkg-deb -x libreswan_*.deb root) || die "libreswan 5 download failed"
        mount -t proc proc "$CHROOT/proc"
        chroot "$CHROOT" apt-get install -y --no-install-recommends libnss3 libnss3-tools libnspr4 \
            libunbound8 libldns3t64 libevent-core-2.1-7t64 libevent-pthreads-2.1-7t64 libcap-ng0 \
            libcurl3t64-gnutls libaudit1 libldap2 libpam0g libselinux1 libcrypt1 ||
            { umount "$CHROOT/proc"; die "apt-get in chroot failed"; }
        umount "$CHROOT/proc"
    fi
    # mount points for pluto's binaries and its host directory inside the chroot
    mkdir -p "$CHROOT/usr/libexec/ipsec" "$CHROOT/lab"
}

libreswan5_version() { dpkg-deb -f "$(ls "$LSWAN5"/libreswan_*.deb | head -n1)" Version; }

strongswan_version() { chroot "$CHROOT" dpkg-query -W -f '${Version}' strongswan-charon; }
libreswan_version() { dpkg-deb -f "$(ls "$LSWAN"/libreswan_*.deb | head -n1)" Version; }

# EXEC=exec in a background subshell makes the last command replace the
# subshell, so that $! is the PID of the daemon itself
nsx() { local h=$1; shift; ${EXEC:-} ip netns exec "$NSP-$h" "$@"; }

mkns() {
    ip netns add "$NSP-$1"
    NETNS_MADE+=("$NSP-$1")
    nsx "$1" ip link set lo up
}

# topology: left (192.0.2.10, inner 10.1.0.1) -- router -- right (198.51.100.20, inner 10.2.0.1)
# TOPO=v4 | nat | v6
topo_up() {
    TOPO=$1
    local h
    for h in left router right; do mkns $h; done
    for h in left router right; do
        if [ "$TOPO" = v6 ]; then
            nsx $h sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
            nsx $h sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
        else
            # keep IPv6 chatter (MLD, RS) out of the IPv4 captures
            nsx $h sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        fi
    done
    ip -n "$NSP-router" link add left0 address 02:00:00:00:01:01 type veth peer name eth0 address 02:00:00:00:01:0a netns "$NSP-left"
    ip -n "$NSP-router" link add right0 address 02:00:00:00:02:01 type veth peer name eth0 address 02:00:00:00:02:14 netns "$NSP-right"
    nsx router sysctl -qw net.ipv4.ip_forward=1
    nsx left ip addr add 192.0.2.10/24 dev eth0
    nsx router ip addr add 192.0.2.1/24 dev left0
    nsx router ip addr add 198.51.100.1/24 dev right0
    nsx right ip addr add 198.51.100.20/24 dev eth0
    # inner (tunnelled) addresses live on lo: the lab kernel has no dummy driver
    nsx left ip addr add 10.1.0.1/32 dev lo
    nsx right ip addr add 10.2.0.1/32 dev lo
    if [ "$TOPO" = v6 ]; then
        nsx router sysctl -qw net.ipv6.conf.all.forwarding=1
        nsx left ip addr add 2001:db8:1::10/64 dev eth0
        nsx router ip addr add 2001:db8:1::1/64 dev left0
        nsx router ip addr add 2001:db8:2::1/64 dev right0
        nsx right ip addr add 2001:db8:2::20/64 dev eth0
        nsx left ip addr add 2001:db8:10:1::1/128 dev lo
        nsx right ip addr add 2001:db8:10:2::1/128 dev lo
    fi
    for h in left router right; do
        for i in $(nsx $h ls /sys/class/net); do
            nsx $h ip link set "$i" up
            # no TSO/GSO/GRO super-packets: the capture should show what
            # a real wire carries (frames no larger than the MTU)
            [ "$i" = lo ] || nsx $h ethtool -K "$i" tso off gso off gro off tx off >/dev/null 2>&1 || true
        done
    done
    nsx left ip route add default via 192.0.2.1
    nsx right ip route add default via 198.51.100.1
    if [ "$TOPO" = v6 ]; then
        nsx left ip -6 route add default via 2001:db8:1::1
        nsx right ip -6 route add default via 2001:db8:2::1
    fi
    if [ "$TOPO" = nat ]; then
        # the router hides the left side behind its own right-side address
        nsx router iptables -t nat -A POSTROUTING -o right0 -s 192.0.2.0/24 -j MASQUERADE
        nsx router iptables -A FORWARD -i right0 -o left0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
        nsx router iptables -A FORWARD -i right0 -o left0 -j DROP
    fi
    sleep 1
}

# ---- strongSwan (chroot, one mount namespace per daemon) ----
# in_host HOST CMD...: run CMD inside the chroot, in HOST's netns, with that
# host's strongswan.conf, /etc/swanctl and /run bound over the chroot's
in_host() {
    local h=$1; shift
    if [[ " $SW_HOST_BINARIES " == *" $h "* ]]; then
        # the host's strongSwan: the same three binds, over the host's own paths
        # (ip netns exec gives the command a mount namespace of its own)
        ${EXEC:-} ip netns exec "$NSP-$h" /bin/sh -c '
            W=$1; shift
            mount --bind "$W/run" /run &&
            mount --bind "$W/swanctl" /etc/swanctl &&
            mount --bind "$W/strongswan.conf" /etc/strongswan.conf || exit 1
            exec "$@"' sh "$WORK/$h" "$@"
        return
    fi
    ${EXEC:-} ip netns exec "$NSP-$h" /bin/sh -c '
        C=$1; W=$2; shift 2
        mount --bind "$W/run" "$C/run" &&
        mount --bind "$W/swanctl" "$C/etc/swanctl" &&
        mount --bind "$W/strongswan.conf" "$C/etc/strongswan.conf" &&
        mount -t proc proc "$C/proc" &&
        mount --bind /dev "$C/dev" &&
        mount -t sysfs sysfs "$C/sys" || exit 1
        exec chroot "$C" "$@"' sh "$CHROOT" "$WORK/$h" "$@"
}

# sw_prepare HOST SWANCTL_CONF_TEXT [EXTRA_CHARON_SETTINGS]
sw_prepare() {
    local h=$1 conftext=$2 extra=${3:-}
    rm -rf "${WORK:?}/$h"
    mkdir -p "$WORK/$h/run" "$WORK/$h/swanctl"
    cp -r "$CHROOT/etc/swanctl/." "$WORK/$h/swanctl/" 2>/dev/null || true
    for d in x509 x509ca private rsa ecdsa pkcs8 pkcs12 conf.d x509aa x509ocsp x509crl x509ac pubkey; do
        mkdir -p "$WORK/$h/swanctl/$d"
    done
    printf '%s\n' "$conftext" >"$WORK/$h/swanctl/swanctl.conf"
    EXTRA="$extra" HOSTN="$h" python3 - "$LAB/conf/strongswan.conf.in" >"$WORK/$h/strongswan.conf" <<'PY'
import os, sys
t = open(sys.argv[1]).read()
print(t.replace("@EXTRA@", os.environ["EXTRA"]).replace("@HOST@", os.environ["HOSTN"]), end="")
PY
}

sw_start() {
    local h=$1 i
    (EXEC=exec in_host "$h" /usr/lib/ipsec/charon >"$WORK/$h/charon.stdout" 2>&1) &
    PIDS+=($!)
    eval "CHARON_PID_$h=$!"
    for i in $(seq 50); do
        [ -S "$WORK/$h/run/charon.vici" ] && break
        sleep 0.1
    done
    [ -S "$WORK/$h/run/charon.vici" ] || die "charon on $h did not start (see $WORK/$h)"
    in_host "$h" swanctl --load-all --noprompt >"$WORK/$h/swanctl-load.out" 2>&1 ||
        { cat "$WORK/$h/swanctl-load.out" >&2; die "swanctl --load-all on $h failed"; }
}

swanctl_on() { local h=$1; shift; in_host "$h" swanctl "$@"; }

# ---- capture ----
cap_start() {
    # $1: output pcap; capture on the router's left-side interface (Ethernet)
    CAP_FILE=$1
    rm -f "$CAP_FILE"
    (EXEC=exec nsx router tcpdump -q -i "${CAP_IF:-left0}" -s 0 -U -Z root -w "$CAP_FILE" 2>"$WORK/tcpdump.err") &
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    sleep 1
}

cap_stop() {
    sleep 0.5
    kill -INT "$CAP_PID" 2>/dev/null || true
    wait "$CAP_PID" 2>/dev/null || true
}

# ---- background traffic ----
www_start() {
    mkdir -p "$WORK/www"
    head -c 20000 /dev/urandom | base64 >"$WORK/www/blob.txt"
    local bind=0.0.0.0
    [ "$TOPO" = v6 ] && bind=::
    local h
    for h in right left; do
        (EXEC=exec nsx $h python3 -m http.server 8080 --bind "$bind" --directory "$WORK/www" >/dev/null 2>&1) &
        PIDS+=($!)
    done
    sleep 0.5
}

udp_probe() {
    # one datagram to a closed port: draws an ICMP port unreachable that has
    # nothing to do with IPsec
    local h=$1 dst=$2 port=${3:-33434}
    nsx "$h" python3 -c 'import socket,sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.sendto(b"lab-probe", (sys.argv[1], int(sys.argv[2])))' "$dst" "$port"
}

# plain traffic between the outer addresses, outside any tunnel
bg_traffic() {
    local dst=198.51.100.20 url=http://198.51.100.20:8080/blob.txt
    if [ "$TOPO" = v6 ]; then dst=2001:db8:2::20; url='http://[2001:db8:2::20]:8080/blob.txt'; fi
    nsx left ping -q -c 3 -i 0.3 "$dst" >/dev/null 2>&1 || true
    nsx left curl -s -o /dev/null --max-time 5 "$url" || true
    udp_probe left "$dst" 33434
}

# traffic through the tunnel between the inner subnets
tunnel_traffic() {
    local src=10.1.0.1 dst=10.2.0.1 url=http://10.2.0.1:8080/blob.txt
    if [ "$TOPO" = v6 ]; then src=2001:db8:10:1::1 dst=2001:db8:10:2::1 url='http://[2001:db8:10:2::1]:8080/blob.txt'; fi
    nsx left ping -q -c "${1:-3}" -i 0.3 -W 1 -I "$src" "$dst" >/dev/null 2>&1 || true
    nsx left curl -s -o /dev/null --max-time 5 --interface "$src" "$url" || true
}

# the right host downloads from the left one through the tunnel: large ESP
# packets from the left (initiator) side
tunnel_upload() {
    local src=10.2.0.1 url=http://10.1.0.1:8080/blob.txt
    if [ "$TOPO" = v6 ]; then src=2001:db8:10:2::1 url='http://[2001:db8:10:1::1]:8080/blob.txt'; fi
    nsx right curl -s -o /dev/null --max-time "${1:-5}" --interface "$src" "$url" || true
}

cleanup() {
    local p ns
    set +e
    [ -n "${NAP_PID:-}" ] && kill "$NAP_PID" 2>/dev/null
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for ns in "${NETNS_MADE[@]}"; do
        # anything still running inside our own namespaces was started by us
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    done
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for ns in "${NETNS_MADE[@]}"; do ip netns del "$ns" 2>/dev/null; done
    PIDS=()
    NETNS_MADE=()
}

# keep_logs DIR: the daemons' logs of the scenario just run (the next
# scenario wipes $WORK)
keep_logs() {
    local h
    mkdir -p "$1"
    for h in left right; do
        [ -f "$WORK/$h/run/charon.log" ] && cp "$WORK/$h/run/charon.log" "$1/$h.charon.log"
        [ -f "$WORK/$h/libreswan/pluto.log" ] && cp "$WORK/$h/libreswan/pluto.log" "$1/$h.pluto.log"
    done
    return 0
}

# ---- Libreswan (unpacked Debian 12 package, host binaries, own dirs) ----
# ls_start HOST IPSEC_CONF_TEXT SECRETS_TEXT
ls_start() {
    local h=$1 d=$WORK/$1/libreswan i
    local bin=$LSWAN/root/usr/libexec/ipsec
    mkdir -p "$d/run" "$d/nss"
    printf '%s\n' "$2" >"$d/ipsec.conf"
    printf '%s\n' "$3" >"$d/ipsec.secrets"
    chmod 600 "$d/ipsec.secrets"
    certutil -N -d "sql:$d/nss" --empty-password
    # pluto runs helpers from the compiled-in /usr/libexec/ipsec: bind the
    # unpacked ones there, in pluto's own mount namespace only
    mkdir -p /usr/libexec/ipsec
    (EXEC=exec nsx "$h" /bin/sh -c 'mount --bind "$1" /usr/libexec/ipsec && shift && exec "$@"' sh "$bin" \
        /usr/libexec/ipsec/pluto --nofork --dumpdir "$d/run" --config "$d/ipsec.conf" --secretsfile "$d/ipsec.secrets" \
        --nssdir "$d/nss" --rundir "$d/run" --ipsecdir "$d" --logfile "$d/pluto.log" >"$d/pluto.stdout" 2>&1) &
    PIDS+=($!)
    for i in $(seq 50); do
        [ -S "$d/run/pluto.ctl" ] && break
        sleep 0.1
    done
    [ -S "$d/run/pluto.ctl" ] || die "pluto on $h did not start (see $d)"
    nsx "$h" "$bin/addconn" --config "$d/ipsec.conf" --ctlsocket "$d/run/pluto.ctl" --autoall >"$d/addconn.out" 2>&1 ||
        { cat "$d/addconn.out" >&2; die "addconn on $h failed"; }
}

# ls5_start HOST IPSEC_CONF_TEXT SECRETS_TEXT: as ls_start, with Libreswan 5
# inside the chroot; the host's directory is /lab there (the config's logfile
# must say /lab/pluto.log)
ls5_start() {
    local h=$1 d=$WORK/$1/libreswan i
    mkdir -p "$d/run" "$d/nss"
    printf '%s\n' "$2" >"$d/ipsec.conf"
    printf '%s\n' "$3" >"$d/ipsec.secrets"
    chmod 600 "$d/ipsec.secrets"
    certutil -N -d "sql:$d/nss" --empty-password
    (EXEC=exec ls5_in "$h" /usr/libexec/ipsec/pluto --nofork --dumpdir /lab/run --config /lab/ipsec.conf \
        --secretsfile /lab/ipsec.secrets --nssdir /lab/nss --rundir /lab/run --ipsecdir /lab \
        --logfile /lab/pluto.log >"$d/pluto.stdout" 2>&1) &
    PIDS+=($!)
    for i in $(seq 50); do
        [ -S "$d/run/pluto.ctl" ] && break
        sleep 0.1
    done
    [ -S "$d/run/pluto.ctl" ] || die "pluto 5 on $h did not start (see $d)"
    ls5_in "$h" /usr/libexec/ipsec/addconn --config /lab/ipsec.conf --ctlsocket /lab/run/pluto.ctl --autoall \
        >"$d/addconn.out" 2>&1 || { cat "$d/addconn.out" >&2; die "addconn on $h failed"; }
}

# ls5_in HOST CMD...: CMD in the chroot, in HOST's netns, with Libreswan 5's
# binaries and HOST's Libreswan directory bound in
ls5_in() {
    local h=$1; shift
    ${EXEC:-} ip netns exec "$NSP-$h" /bin/sh -c '
        C=$1; L=$2; D=$3; shift 3
        mount --bind "$L" "$C/usr/libexec/ipsec" &&
        mount --bind "$D" "$C/lab" &&
        mount -t proc proc "$C/proc" &&
        mount --bind /dev "$C/dev" || exit 1
        exec chroot "$C" "$@"' sh "$CHROOT" "$LSWAN5/root/usr/libexec/ipsec" "$WORK/$h/libreswan" "$@"
}

# ---- certificates (strongSwan pki in the chroot) ----
# pki_make DIR: a root CA, three intermediate CAs and end-entity certificates
# for left.example/right.example, all RSA 4096: a large IKE_AUTH
pki_make() {
    local d=$1 p="chroot $CHROOT pki"
    local cd=/tmp/ike-lab-pki
    rm -rf "$CHROOT$cd"
    mkdir -p "$CHROOT$cd"
    $p --gen --type rsa --size 4096 --outform pem >"$CHROOT$cd/ca.key" 2>/dev/null
    $p --self --ca --lifetime 3650 --in "$cd/ca.key" --dn "C=XX, O=ike-sniff lab, CN=Lab Root CA" --outform pem >"$CHROOT$cd/ca.crt"
    local prev=ca i
    for i in 1 2 3; do
        $p --gen --type rsa --size 4096 --outform pem >"$CHROOT$cd/im$i.key" 2>/dev/null
        $p --issue --cacert "$cd/$prev.crt" --cakey "$cd/$prev.key" --type priv --in "$cd/im$i.key" --ca \
            --lifetime 3000 --dn "C=XX, O=ike-sniff lab, OU=Intermediate $i, CN=Lab Intermediate CA $i" --outform pem >"$CHROOT$cd/im$i.crt"
        prev=im$i
    done
    for i in left right; do
        $p --gen --type rsa --size 4096 --outform pem >"$CHROOT$cd/$i.key" 2>/dev/null
        $p --issue --cacert "$cd/$prev.crt" --cakey "$cd/$prev.key" --type priv --in "$cd/$i.key" \
            --lifetime 2000 --dn "C=XX, O=ike-sniff lab, CN=$i.example" --san "$i.example" --outform pem >"$CHROOT$cd/$i.crt"
    done
    mkdir -p "$d"
    cp "$CHROOT$cd"/*.crt "$CHROOT$cd"/*.key "$d/"
    rm -rf "${CHROOT:?}$cd"
}

# pki_install HOST DIR: own cert+key, the CA and intermediates
pki_install() {
    local h=$1 d=$2 s=$WORK/$1/swanctl
    cp "$d/$h.crt" "$s/x509/"
    cp "$d/$h.key" "$s/private/"
    cp "$d/ca.crt" "$s/x509ca/"
    cp "$d"/im*.crt "$s/x509ca/"
}
