#!/bin/sh
# The in-pod check suite of `kubectl netdebug run`: the plugin execs this script in a netshoot
# pod and parses its stdout. POSIX sh (dash, busybox ash); no bashisms.
#
# Contract (ARCHITECTURE.md "netdebug's in-pod suite"): stdout holds exactly one JSON object
# per line and per check, in this order, and nothing else:
#   {"id":"incluster.dns.fqdn","status":"ok","message":"...","hint":"","durationMs":12,
#    "details":{...}}
# Endpoint checks carry "endpoint":"ip:port" right after "id". "hint" is set for warn and fail
# (empty otherwise); "details" is always an object. Diagnostics go to stderr. The service
# account token is never printed, logged or passed on a command line.
#
# Environment:
#   KUBERNETES_SERVICE_HOST/PORT  the API server's service address (set by the kubelet)
#   KP_SA_DIR          service account dir (token, ca.crt, namespace)
#                      default /var/run/secrets/kubernetes.io/serviceaccount
#   KP_ENDPOINTS       space-separated ip:port of the API-server endpoints ([v6]:port for IPv6)
#   KP_CLUSTER_DOMAIN  cluster domain, default cluster.local
#   KP_NAMESPACE       the pod's namespace when $KP_SA_DIR/namespace is absent
#   KP_TIMEOUT         seconds per network step, default 5 (a whole integer >= 1)
#   KP_PROFILE         restricted: no raw sockets, so no ping

LC_ALL=C
export LC_ALL
umask 077
set -f # no globbing: words from resolv.conf and KP_ENDPOINTS are data

T=${KP_TIMEOUT:-5}
case $T in
  '' | *[!0-9]* | 0) echo "suite: KP_TIMEOUT=$T is not a whole number of seconds >= 1; using 5" >&2
    T=5 ;;
esac
DOMAIN=${KP_CLUSTER_DOMAIN:-cluster.local}
DOMAIN=${DOMAIN%.}
SA_DIR=${KP_SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}
SVC_HOST=${KUBERNETES_SERVICE_HOST:-}
SVC_PORT=${KUBERNETES_SERVICE_PORT:-443}
ENDPOINT_NAME=kubernetes.default.svc
RESOLV=/etc/resolv.conf

TMP=$(mktemp -d 2>/dev/null || mktemp -d -t kpsuite.XXXXXX) || {
  echo "suite: cannot create a temporary directory" >&2
  exit 2
}
trap 'rm -rf "$TMP"' EXIT
trap 'rm -rf "$TMP"; exit 130' INT TERM

log() { printf 'suite: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

# ------------------------------------------------------------------ JSON

# jstr S: S as a JSON string literal. Backslash, quote and control characters are escaped;
# bytes that are not valid UTF-8 become U+FFFD so that every line parses.
jstr() {
  case $1 in
    *[!\ -~]* | *[\"\\]*) ;;
    *) printf '"%s"' "$1"; return ;;
  esac
  printf '%s\n' "$1" | awk '
    BEGIN {
      for (i = 1; i < 256; i++) ord[sprintf("%c", i)] = i
      for (i = 1; i < 32; i++) esc[sprintf("%c", i)] = sprintf("\\u%04x", i)
      esc["\t"] = "\\t"; esc["\r"] = "\\r"; esc["\b"] = "\\b"; esc["\f"] = "\\f"
      esc["\""] = "\\\""; esc["\\"] = "\\\\"
      printf "\""
    }
    {
      if (NR > 1) printf "\\n"
      n = length($0); i = 1
      while (i <= n) {
        c = substr($0, i, 1); o = ord[c]
        if (c in esc) { printf "%s", esc[c]; i++; continue }
        if (o < 128) { printf "%s", c; i++; continue }
        if (o >= 194 && o <= 223) k = 1
        else if (o >= 224 && o <= 239) k = 2
        else if (o >= 240 && o <= 244) k = 3
        else k = 0
        ok = (k > 0 && i + k <= n)
        for (j = 1; ok && j <= k; j++) {
          b = ord[substr($0, i + j, 1)]
          if (b < 128 || b > 191) ok = 0
        }
        if (ok && k == 2) {
          b = ord[substr($0, i + 1, 1)]
          if ((o == 224 && b < 160) || (o == 237 && b > 159)) ok = 0
        }
        if (ok && k == 3) {
          b = ord[substr($0, i + 1, 1)]
          if ((o == 240 && b < 144) || (o == 244 && b > 143)) ok = 0
        }
        if (ok) { printf "%s", substr($0, i, k + 1); i += k + 1 }
        else { printf "\\ufffd"; i++ }
      }
    }
    END { printf "\"" }'
}

# jarr WORD...: a JSON array of strings.
jarr() {
  ja_out='['
  ja_sep=''
  for ja_w in "$@"; do
    ja_out="$ja_out$ja_sep$(jstr "$ja_w")"
    ja_sep=','
  done
  printf '%s]' "$ja_out"
}

# ------------------------------------------------------------------ time and timeouts

if [ "$(date +%s%N 2>/dev/null | tr -d 0-9)" = '' ] && [ "$(date +%s%N | wc -c)" -gt 15 ]; then
  now_ms() { ns=$(date +%s%N); echo $((ns / 1000000)); }
else
  now_ms() {
    read -r up _ </proc/uptime
    echo $((${up%.*} * 1000 + 1${up#*.} * 10 - 1000))
  }
fi

# to SECONDS CMD...: runs CMD, killed after SECONDS; exit status 124 when it was killed.
if have timeout && timeout 5 sh -c : 2>/dev/null; then
  to() {
    timeout "$@"
    to_rc=$?
    case $to_rc in 137 | 143) to_rc=124 ;; esac
    return $to_rc
  }
else
  to() {
    to_s=$1
    shift
    # An asynchronous command's stdin is /dev/null unless redirected: keep the caller's
    # (curl reads the Authorization header from it).
    { "$@" <&3 3<&- & } 3<&0
    to_pid=$!
    (sleep "$to_s"; kill -s TERM "$to_pid"; sleep 1; kill -s KILL "$to_pid") \
      </dev/null >/dev/null 2>&1 &
    to_wd=$!
    wait "$to_pid"
    to_rc=$?
    kill "$to_wd" 2>/dev/null
    case $to_rc in 137 | 143) to_rc=124 ;; esac
    return $to_rc
  }
fi

# ------------------------------------------------------------------ output

# emit ID STATUS MESSAGE HINT START_MS DETAILS_JSON [ENDPOINT]
emit() {
  em_ms=$(($(now_ms) - $5))
  [ "$em_ms" -ge 0 ] || em_ms=0
  em_line="{\"id\":$(jstr "$1")"
  [ -z "${7:-}" ] || em_line="$em_line,\"endpoint\":$(jstr "$7")"
  em_line="$em_line,\"status\":\"$2\",\"message\":$(jstr "$3"),\"hint\":$(jstr "$4")"
  em_details=${6:-}
  [ -n "$em_details" ] || em_details='{}'
  printf '%s,"durationMs":%s,"details":%s}\n' "$em_line" "$em_ms" "$em_details"
}

# firstline FILE: the first non-empty line of FILE, trimmed, at most 300 bytes.
firstline() {
  sed -n 's/^[[:space:]]*//; s/[[:space:]]*$//; /./{p;q;}' "$1" 2>/dev/null | cut -c1-300
}

# url_host HOST: HOST as it appears in a URL (IPv6 in brackets).
url_host() {
  case $1 in *:*) printf '[%s]' "$1" ;; *) printf '%s' "$1" ;; esac
}

# ------------------------------------------------------------------ resolv.conf

NAMESERVERS=''
SEARCH=''
NDOTS=1
OPTIONS=''
NAMESPACE=''
if [ -r "$SA_DIR/namespace" ]; then
  NAMESPACE=$(sed -n '1{s/[[:space:]]//g;p;}' "$SA_DIR/namespace")
fi
[ -n "$NAMESPACE" ] || NAMESPACE=${KP_NAMESPACE:-}
DNS_USABLE=no

check_resolvconf() {
  st=$(now_ms)
  if [ ! -r "$RESOLV" ]; then
    emit incluster.resolvconf fail "$RESOLV is missing or unreadable" \
      "the pod has no DNS configuration: check the pod's dnsPolicy and dnsConfig" "$st" '{}'
    return
  fi
  # The last search/domain line wins, as in the resolver.
  while read -r rc_key rc_rest || [ -n "$rc_key" ]; do # a last line without newline too
    case $rc_key in
      nameserver) NAMESERVERS="$NAMESERVERS${NAMESERVERS:+ }${rc_rest%%[[:space:]]*}" ;;
      search | domain) SEARCH=$rc_rest ;;
      options)
        for rc_o in $rc_rest; do
          OPTIONS="$OPTIONS${OPTIONS:+ }$rc_o"
          case $rc_o in ndots:*) NDOTS=${rc_o#ndots:} ;; esac
        done ;;
    esac
  done <"$RESOLV"
  case $NDOTS in '' | *[!0-9]*) NDOTS=1 ;; esac
  # shellcheck disable=SC2086 # word splitting of the lists is intended
  rc_ns=$(jarr $NAMESERVERS) rc_search=$(jarr $SEARCH) rc_opts=$(jarr $OPTIONS)
  rc_details="{\"file\":$(jstr "$RESOLV"),\"nameservers\":$rc_ns,\"search\":$rc_search"
  rc_details="$rc_details,\"ndots\":$NDOTS,\"options\":$rc_opts"
  rc_details="$rc_details,\"clusterDomain\":$(jstr "$DOMAIN"),\"namespace\":$(jstr "$NAMESPACE")}"
  if [ -z "$NAMESERVERS" ]; then
    emit incluster.resolvconf fail "no nameserver in $RESOLV" \
      "the pod has no DNS server: check its dnsPolicy/dnsConfig and the kubelet's clusterDNS (--cluster-dns)" \
      "$st" "$rc_details"
    return
  fi
  DNS_USABLE=yes
  rc_want="svc.$DOMAIN $DOMAIN"
  [ -z "$NAMESPACE" ] || rc_want="$NAMESPACE.svc.$DOMAIN $rc_want"
  rc_missing=''
  for rc_w in $rc_want; do
    rc_found=no
    for rc_s in $SEARCH; do
      [ "${rc_s%.}" = "$rc_w" ] && rc_found=yes
    done
    [ $rc_found = yes ] || rc_missing="$rc_missing${rc_missing:+ }$rc_w"
  done
  rc_msg="nameservers $NAMESERVERS; search ${SEARCH:-(none)}; ndots $NDOTS"
  if [ -n "$rc_missing" ]; then
    emit incluster.resolvconf warn "$rc_msg; the search path lacks $rc_missing" \
      "short service names will not resolve: use dnsPolicy ClusterFirst (ClusterFirstWithHostNet for hostNetwork pods) and check the kubelet's clusterDomain ($DOMAIN)" \
      "$st" "$rc_details"
  else
    emit incluster.resolvconf ok "$rc_msg" "" "$st" "$rc_details"
  fi
}

# ------------------------------------------------------------------ DNS

# resolve NAME search|fqdn: sets R_STATUS (ok nxdomain nodata refused servfail timeout error),
# R_ADDRS, R_NAME (the name that answered), R_TOOL, R_ERR (a short reason).
resolve() {
  R_STATUS=error
  R_ADDRS=''
  R_NAME=''
  R_ERR=''
  R_TOOL=''
  rs_out=$TMP/dns.out
  rs_try=$((T / 2))
  [ $rs_try -ge 1 ] || rs_try=1
  if have dig; then
    R_TOOL=dig
    if [ "$2" = search ]; then rs_opt=+search; else rs_opt=+nosearch; fi
    to "$T" dig +time=$rs_try +tries=1 $rs_opt "$1" A >"$rs_out" 2>&1
    rs_rc=$?
    rs_status=$(sed -n 's/.*->>HEADER<<-.*status: \([A-Z]*\).*/\1/p' "$rs_out" | tail -n 1)
    R_ADDRS=$(awk '!/^;/ && NF >= 5 && ($4 == "A" || $4 == "AAAA") {printf "%s ", $5}' \
      "$rs_out")
    R_NAME=$(awk '!/^;/ && NF >= 5 && ($4 == "A" || $4 == "AAAA") {print $1; exit}' "$rs_out")
    R_NAME=${R_NAME%.}
    case $rs_rc:$rs_status in
      124:*) R_STATUS=timeout; R_ERR="no answer within ${T}s" ;;
      *:NOERROR) if [ -n "$R_ADDRS" ]; then R_STATUS=ok; else R_STATUS=nodata; fi ;;
      *:NXDOMAIN) R_STATUS=nxdomain ;;
      *:REFUSED) R_STATUS=refused ;;
      *:SERVFAIL) R_STATUS=servfail ;;
      9:* | *:) if grep -q 'timed out' "$rs_out"; then
          R_STATUS=timeout; R_ERR=$(grep -m1 'timed out' "$rs_out" | sed 's/^;* *//')
        else
          R_ERR=$(firstline "$rs_out")
        fi ;;
      *) R_ERR="status $rs_status" ;;
    esac
  elif have nslookup; then
    R_TOOL=nslookup
    rs_q=$1
    [ "$2" = search ] || rs_q="$1."
    to "$T" nslookup "$rs_q" >"$rs_out" 2>&1
    rs_rc=$?
    R_ADDRS=$(awk '/^Name:/ {n = 1; next}
      n && /^Address/ {sub(/^Address[^:]*:[ \t]*/, ""); split($0, a, /[ \t]/); printf "%s ", a[1]}' \
      "$rs_out")
    R_NAME=$(awk '/^Name:/ {print $2; exit}' "$rs_out")
    R_NAME=${R_NAME%.}
    if [ $rs_rc = 124 ]; then R_STATUS=timeout; R_ERR="no answer within ${T}s"
    elif [ -n "$R_ADDRS" ]; then R_STATUS=ok
    elif grep -q 'NXDOMAIN' "$rs_out"; then R_STATUS=nxdomain
    elif grep -q 'REFUSED' "$rs_out"; then R_STATUS=refused
    elif grep -q 'SERVFAIL' "$rs_out"; then R_STATUS=servfail
    elif grep -qi 'timed out' "$rs_out"; then
      R_STATUS=timeout; R_ERR=$(grep -i -m1 'timed out' "$rs_out" | sed 's/^;* *//')
    elif grep -qi 'no answer' "$rs_out"; then R_STATUS=nodata
    else R_ERR=$(firstline "$rs_out")
    fi
  elif have getent; then
    R_TOOL=getent
    rs_q=$1
    [ "$2" = search ] || rs_q="$1."
    to "$T" getent hosts "$rs_q" >"$rs_out" 2>&1
    rs_rc=$?
    R_ADDRS=$(awk 'NF >= 2 {printf "%s ", $1}' "$rs_out")
    R_NAME=$(awk 'NF >= 2 {print $2; exit}' "$rs_out")
    R_NAME=${R_NAME%.}
    if [ $rs_rc = 124 ]; then R_STATUS=timeout; R_ERR="no answer within ${T}s"
    elif [ -n "$R_ADDRS" ]; then R_STATUS=ok
    else R_STATUS=error; R_ERR="not found (getent cannot tell NXDOMAIN from a timeout)"
    fi
  else
    R_STATUS=notool
    return
  fi
  R_ADDRS=${R_ADDRS% }
}

# dns_reason: a sentence for a failed resolve.
dns_reason() {
  case $R_STATUS in
    nxdomain) echo "NXDOMAIN (the name does not exist)" ;;
    nodata) echo "no A or AAAA record" ;;
    refused) echo "REFUSED by the nameserver" ;;
    servfail) echo "SERVFAIL (the nameserver failed to answer)" ;;
    timeout) echo "timed out (${R_ERR:-no answer within ${T}s})" ;;
    *) echo "failed (${R_ERR:-unknown error})" ;;
  esac
}

dns_hint() {
  case $R_STATUS in
    timeout) echo "the nameserver ($NAMESERVERS) does not answer: check that CoreDNS pods run (kubectl -n kube-system get pods -l k8s-app=kube-dns), the kube-dns service and its endpoints, and NetworkPolicies or firewalls blocking UDP/TCP 53" ;;
    refused) echo "the nameserver ($NAMESERVERS) refuses the query: it is not the cluster DNS or not authoritative for $DOMAIN; check the kubelet's clusterDNS and the CoreDNS Corefile" ;;
    *) echo "check CoreDNS (kubectl -n kube-system logs -l k8s-app=kube-dns), its Corefile's kubernetes plugin and cluster domain ($DOMAIN), and the default/kubernetes service" ;;
  esac
}

check_dns_fqdn() {
  st=$(now_ms)
  df_name="kubernetes.default.svc.$DOMAIN"
  if [ $DNS_USABLE != yes ]; then
    emit incluster.dns.fqdn skip "no nameserver in $RESOLV" "" "$st" \
      "{\"name\":$(jstr "$df_name")}"
    return
  fi
  resolve "$df_name" fqdn
  if [ $R_STATUS = notool ]; then
    emit incluster.dns.fqdn skip "no DNS tool: dig, nslookup and getent are all missing" "" \
      "$st" "{\"name\":$(jstr "$df_name")}"
    return
  fi
  # shellcheck disable=SC2086
  df_addrs=$(jarr $R_ADDRS) df_ns=$(jarr $NAMESERVERS)
  df_details="{\"name\":$(jstr "$df_name"),\"tool\":\"$R_TOOL\",\"rcode\":\"$R_STATUS\""
  df_details="$df_details,\"addresses\":$df_addrs,\"serviceHost\":$(jstr "$SVC_HOST")"
  df_details="$df_details,\"nameservers\":$df_ns}"
  if [ $R_STATUS != ok ]; then
    emit incluster.dns.fqdn fail "$df_name: $(dns_reason)" "$(dns_hint)" "$st" "$df_details"
    return
  fi
  if [ -z "$SVC_HOST" ]; then
    emit incluster.dns.fqdn ok "$df_name resolves to $R_ADDRS (KUBERNETES_SERVICE_HOST is not set)" \
      "" "$st" "$df_details"
    return
  fi
  for df_a in $R_ADDRS; do
    if [ "$df_a" = "$SVC_HOST" ]; then
      emit incluster.dns.fqdn ok "$df_name resolves to $R_ADDRS" "" "$st" "$df_details"
      return
    fi
  done
  emit incluster.dns.fqdn warn \
    "$df_name resolves to $R_ADDRS, not KUBERNETES_SERVICE_HOST $SVC_HOST" \
    "DNS and the service environment disagree: check the default/kubernetes service's clusterIP (kubectl get svc kubernetes) and the CoreDNS cache; a pod started before the service changed keeps the old environment" \
    "$st" "$df_details"
}

check_dns_search() {
  st=$(now_ms)
  ds_name=kubernetes.default
  if [ $DNS_USABLE != yes ]; then
    emit incluster.dns.search skip "no nameserver in $RESOLV" "" "$st" \
      "{\"name\":\"$ds_name\"}"
    return
  fi
  resolve "$ds_name" search
  if [ $R_STATUS = notool ]; then
    emit incluster.dns.search skip "no DNS tool: dig, nslookup and getent are all missing" "" \
      "$st" "{\"name\":\"$ds_name\"}"
    return
  fi
  # shellcheck disable=SC2086
  ds_addrs=$(jarr $R_ADDRS) ds_search=$(jarr $SEARCH)
  ds_details="{\"name\":\"$ds_name\",\"tool\":\"$R_TOOL\",\"rcode\":\"$R_STATUS\""
  ds_details="$ds_details,\"answeredAs\":$(jstr "$R_NAME"),\"addresses\":$ds_addrs"
  ds_details="$ds_details,\"search\":$ds_search,\"ndots\":$NDOTS}"
  if [ $R_STATUS = ok ]; then
    emit incluster.dns.search ok "$ds_name resolves through the search path${R_NAME:+ as $R_NAME} to $R_ADDRS" \
      "" "$st" "$ds_details"
  else
    emit incluster.dns.search fail "$ds_name through the search path (${SEARCH:-none}): $(dns_reason)" \
      "$(dns_hint); a missing svc.$DOMAIN search entry breaks short names (dnsPolicy ClusterFirst)" \
      "$st" "$ds_details"
  fi
}

# ------------------------------------------------------------------ TCP

# tcp_probe HOST PORT: sets P_OK (yes/no), P_CLASS (refused timeout unreachable error),
# P_MSG, P_MS (connect time in ms). No credential is sent.
tcp_probe() {
  P_OK=no
  P_CLASS=error
  P_MSG=''
  P_MS=0
  tp_err=$TMP/tcp.err
  if have curl; then
    tp_w=$(to $((T + 1)) curl -k -s -v -o /dev/null --connect-timeout "$T" --max-time "$T" \
      -w '%{time_connect}' "https://$(url_host "$1"):$2/" 2>"$tp_err" </dev/null)
    tp_rc=$?
    tp_c=$(echo "${tp_w:-0}" | awk '{printf "%.1f", $1 * 1000}')
    if [ $tp_rc = 0 ] || echo "${tp_w:-0}" | awk '{exit !($1 > 0)}'; then
      P_OK=yes
      P_MS=$tp_c
      return
    fi
    tp_line=$(grep -m1 -E 'failed: |Connection timed out|Timeout was reached|Could not resolve' \
      "$tp_err" | sed 's/^\* *//')
    case $tp_rc:$tp_line in
      *'Connection refused'*) P_CLASS=refused; P_MSG="connection refused" ;;
      *'No route to host'* | *'Network is unreachable'* | *'unreachable'*)
        P_CLASS=unreachable; P_MSG="no route to host (${tp_line##*failed: })" ;;
      28:* | 124:* | *'timed out'* | *'Timeout was reached'*)
        P_CLASS=timeout; P_MSG="connection timed out after ${T}s" ;;
      *'Operation not permitted'*) P_CLASS=blocked
        P_MSG="connect not permitted (a local firewall rejects it)" ;;
      *) P_MSG="connect failed (curl exit $tp_rc: ${tp_line:-$(firstline "$tp_err")})" ;;
    esac
  elif have nc; then
    to $((T + 1)) nc -z -w "$T" "$1" "$2" </dev/null >"$tp_err" 2>&1
    tp_rc=$?
    if [ $tp_rc = 0 ]; then P_OK=yes; return; fi
    if grep -qi refused "$tp_err"; then P_CLASS=refused; P_MSG="connection refused"
    elif [ $tp_rc = 124 ] || grep -qi 'timed out' "$tp_err"; then
      P_CLASS=timeout; P_MSG="connection timed out after ${T}s"
    elif grep -qi 'unreachable\|no route' "$tp_err"; then
      P_CLASS=unreachable; P_MSG="no route to host"
    else P_MSG="connect failed (nc: $(firstline "$tp_err"))"
    fi
  else
    P_CLASS=notool
  fi
}

tcp_hint() {
  case $P_CLASS in
    refused) echo "nothing accepts connections on $1: check that kube-apiserver runs and listens there, and that kube-proxy (or the CNI's service implementation) programs the service IP" ;;
    timeout) echo "packets to $1 are dropped: check NetworkPolicies (egress to the API server), node firewalls and security groups, kube-proxy's rules (iptables-save | grep ${1%:*}) and routes" ;;
    unreachable) echo "no route to $1 from the pod: check the pod's routes, the CNI and the node's routing" ;;
    *) echo "check the network path from the pod to $1 (NetworkPolicies, firewalls, kube-proxy)" ;;
  esac
}

# ------------------------------------------------------------------ TLS

# tls_probe HOST PORT NAME CAFILE: NAME is the name to verify (an IP for the service).
# Sets V_OK (yes/no), V_MSG, V_DETAILS (JSON members, without braces).
tls_probe() {
  V_OK=no
  V_MSG=''
  V_DETAILS=''
  tl_out=$TMP/tls.out
  tl_err=$TMP/tls.err
  if have openssl; then
    case $3 in
      *[!0-9.]* | '') case $3 in *:*) tl_v="-verify_ip $3"; tl_sni="-noservername" ;;
          *) tl_v="-verify_hostname $3"; tl_sni="-servername $3" ;; esac ;;
      *) tl_v="-verify_ip $3"; tl_sni="-noservername" ;;
    esac
    # shellcheck disable=SC2086 # $tl_v and $tl_sni are option pairs
    to "$T" openssl s_client -connect "$(url_host "$1"):$2" $tl_sni $tl_v -CAfile "$4" \
      </dev/null >"$tl_out" 2>"$tl_err"
    tl_rc=$?
    tl_code=$(sed -n 's/^ *Verify return code: \([0-9]*\) .*/\1/p' "$tl_out" | tail -n 1)
    tl_reason=$(sed -n 's/^ *Verify return code: [0-9]* (\(.*\))$/\1/p' "$tl_out" | tail -n 1)
    tl_proto=$(sed -n 's/^ *Protocol *: *//p' "$tl_out" | tail -n 1)
    [ -n "$tl_proto" ] || tl_proto=$(sed -n 's/^New, \([^,]*\), Cipher.*/\1/p' "$tl_out" | head -n 1)
    tl_cipher=$(sed -n 's/^ *Cipher *: *//p' "$tl_out" | tail -n 1)
    tl_subject=''
    tl_issuer=''
    tl_end=''
    if grep -q 'BEGIN CERTIFICATE' "$tl_out"; then
      openssl x509 -noout -subject -issuer -enddate -nameopt RFC2253 <"$tl_out" \
        >"$TMP/x509" 2>/dev/null
      tl_subject=$(sed -n 's/^subject=//p' "$TMP/x509")
      tl_issuer=$(sed -n 's/^issuer=//p' "$TMP/x509")
      tl_end=$(sed -n 's/^notAfter=//p' "$TMP/x509")
    fi
    V_DETAILS="\"tool\":\"openssl\",\"verifyName\":$(jstr "$3"),\"protocol\":$(jstr "$tl_proto")"
    V_DETAILS="$V_DETAILS,\"cipher\":$(jstr "$tl_cipher"),\"subject\":$(jstr "$tl_subject")"
    V_DETAILS="$V_DETAILS,\"issuer\":$(jstr "$tl_issuer"),\"notAfter\":$(jstr "$tl_end")"
    V_DETAILS="$V_DETAILS,\"verifyCode\":${tl_code:-null},\"verifyResult\":$(jstr "$tl_reason")"
    if [ "$tl_code" = 0 ]; then
      V_OK=yes
      V_MSG="certificate verified against $4 for $3 ($tl_proto${tl_subject:+, $tl_subject})"
    elif [ -n "$tl_code" ]; then
      V_MSG="certificate verify error $tl_code: $tl_reason (verifying $3 against $4${tl_subject:+; server certificate $tl_subject, issuer $tl_issuer, notAfter $tl_end})"
    elif [ $tl_rc = 124 ]; then
      V_MSG="TLS handshake timed out after ${T}s"
    elif grep -q 'errno=111' "$tl_err"; then
      V_MSG="TLS connect refused"
    else
      V_MSG="TLS handshake failed: $(grep -m1 -E 'error|errno|alert' "$tl_err" | cut -c1-300)"
    fi
  elif have curl; then
    case $3 in
      *[!0-9.]*) tl_url="https://$3:$2/livez"
        tl_res="--resolve $3:$2:$1" ;;
      *) tl_url="https://$(url_host "$1"):$2/livez"; tl_res='' ;;
    esac
    # shellcheck disable=SC2086
    to $((T + 1)) curl -sS -o /dev/null --max-time "$T" --cacert "$4" $tl_res "$tl_url" \
      </dev/null >"$tl_out" 2>"$tl_err"
    tl_rc=$?
    V_DETAILS="\"tool\":\"curl\",\"verifyName\":$(jstr "$3")"
    case $tl_rc in
      0 | 22) V_OK=yes; V_MSG="certificate verified against $4 for $3 (curl)" ;;
      124 | 28) V_MSG="TLS handshake timed out after ${T}s" ;;
      *) V_MSG="certificate verify error: $(sed -n 's/^curl: ([0-9]*) //p' "$tl_err" | head -n 1)" ;;
    esac
  else
    V_MSG=notool
  fi
}

tls_hint() {
  case $V_MSG in
    *'has expired'* | *'not yet valid'*) echo "the API server's serving certificate is outside its validity window: renew it (kubeadm certs renew apiserver) and restart kube-apiserver; check the node's clock" ;;
    *'mismatch'*) echo "the serving certificate does not name $1: add it to the certificate's SANs (kubeadm ClusterConfiguration apiServer.certSANs) and renew it" ;;
    *'verify error'*) echo "the serving certificate is not signed by the CA in the service account's ca.crt: check the cluster CA (kube-root-ca.crt ConfigMap), and whether a proxy or load balancer terminates TLS with another certificate" ;;
    *) echo "the TLS handshake with $1 failed: check that the API server serves TLS on this port and that nothing in between intercepts the connection" ;;
  esac
}

# ------------------------------------------------------------------ HTTP

# http_get URL [RESOLVE]: GET with the service account token (if any) and the CA. Sets H_RC,
# H_CODE, H_BODY (file), H_ERR (curl's reason). The token goes to curl on stdin (-H @-).
http_get() {
  H_BODY=$TMP/http.body
  hg_err=$TMP/http.err
  : >"$H_BODY"
  hg_res=''
  [ -z "${2:-}" ] || hg_res="--resolve $2"
  if [ -r "$SA_DIR/token" ]; then
    # shellcheck disable=SC2086
    H_CODE=$({ printf 'Authorization: Bearer '; tr -d '\r\n' <"$SA_DIR/token"; printf '\n'; } |
      to $((T + 1)) curl -sS --max-time "$T" --cacert "$SA_DIR/ca.crt" $hg_res -H @- \
        -o "$H_BODY" --max-filesize 1048576 -w '%{http_code}' "$1" 2>"$hg_err")
  else
    # shellcheck disable=SC2086
    H_CODE=$(to $((T + 1)) curl -sS --max-time "$T" --cacert "$SA_DIR/ca.crt" $hg_res \
      -o "$H_BODY" --max-filesize 1048576 -w '%{http_code}' "$1" 2>"$hg_err" </dev/null)
  fi
  H_RC=$?
  H_ERR=$(sed -n 's/^curl: ([0-9]*) //p' "$hg_err" | head -n 1)
  [ $H_RC != 124 ] || H_ERR="no answer within ${T}s"
}

http_reason() {
  case $H_CODE in
    401) echo "the service account token was rejected (401 Unauthorized)" ;;
    403)
      hr_msg=$(sed -n 's/.*"message": *"\([^"]*\)".*/\1/p' "$H_BODY" | head -n 1)
      echo "forbidden (403): $hr_msg" ;;
    *) echo "HTTP $H_CODE" ;;
  esac
}

# check_health ID PATH URL RESOLVE ENDPOINT START
check_health() {
  if [ ! -r "$SA_DIR/ca.crt" ]; then
    emit "$1" skip "no CA at $SA_DIR/ca.crt" "" "$6" "{}" "$5"
    return
  fi
  http_get "$3" "$4"
  if [ -r "$SA_DIR/token" ]; then ch_auth=token; else ch_auth=anonymous; fi
  ch_failing=$(sed -n 's/^\[-\]\([^ ]*\) failed.*/\1/p' "$H_BODY" | tr '\n' ' ')
  ch_failing=${ch_failing% }
  # shellcheck disable=SC2086
  ch_fail_json=$(jarr $ch_failing)
  ch_details="{\"url\":$(jstr "$3"),\"auth\":\"$ch_auth\",\"httpCode\":${H_CODE:-0}"
  ch_details="$ch_details,\"failing\":$ch_fail_json}"
  ch_first=$(firstline "$H_BODY")
  ch_last=$(grep '[^[:space:]]' "$H_BODY" | tail -n 1 | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' |
    cut -c1-200)
  if [ "${H_CODE:-000}" = 000 ]; then
    emit "$1" fail "GET $2 failed: ${H_ERR:-curl exit $H_RC}" \
      "the API server accepted the connection but did not answer $2 within ${T}s: check kube-apiserver's logs and load" \
      "$6" "$ch_details" "$5"
  elif [ "$H_CODE" = 200 ]; then
    emit "$1" ok "GET $2: 200${ch_last:+ $ch_last}" "" "$6" "$ch_details" "$5"
  elif [ -n "$ch_failing" ]; then
    emit "$1" fail "GET $2: HTTP $H_CODE, failing checks: $ch_failing" \
      "the API server is not ready: see kubectl get --raw '/readyz?verbose' and kube-apiserver's logs (etcd reachable? post-start hooks done?)" \
      "$6" "$ch_details" "$5"
  else
    case $H_CODE in
      401) ch_hint="the pod's service account token is not accepted: check the API server's --service-account-key-file/--service-account-issuer and that the token is not expired" ;;
      403) ch_hint="RBAC forbids $2 for this service account: the system:public-info-viewer ClusterRoleBinding should allow it" ;;
      *) ch_hint="see kube-apiserver's logs and kubectl get --raw '$2'" ;;
    esac
    emit "$1" fail "GET $2: $(http_reason)${ch_first:+: $ch_first}" "$ch_hint" "$6" \
      "$ch_details" "$5"
  fi
}

# ------------------------------------------------------------------ the service

SVC_TCP=no

check_service() {
  st=$(now_ms)
  if [ -z "$SVC_HOST" ]; then
    for sv_id in tcp tls livez readyz; do
      emit "incluster.service.$sv_id" skip "KUBERNETES_SERVICE_HOST is not set (not in a pod?)" \
        "" "$st" '{}'
    done
    return
  fi
  sv_hp="$(url_host "$SVC_HOST"):$SVC_PORT"
  sv_d="\"address\":$(jstr "$sv_hp")"
  tcp_probe "$SVC_HOST" "$SVC_PORT"
  if [ $P_CLASS = notool ]; then
    SVC_TCP=unknown
    emit incluster.service.tcp skip "no TCP tool: curl and nc are both missing" "" "$st" "{$sv_d}"
  elif [ $P_OK = yes ]; then
    SVC_TCP=yes
    emit incluster.service.tcp ok "connected to $sv_hp in ${P_MS} ms" "" "$st" \
      "{$sv_d,\"connectMs\":$P_MS}"
  else
    emit incluster.service.tcp fail "$sv_hp: $P_MSG" "$(tcp_hint "$sv_hp")" "$st" \
      "{$sv_d,\"error\":\"$P_CLASS\"}"
  fi

  st=$(now_ms)
  sv_tls=no
  if [ $SVC_TCP = unknown ]; then
    emit incluster.service.tls skip "service TCP not checked (curl and nc are missing)" "" "$st" \
      "{$sv_d}"
  elif [ $SVC_TCP != yes ]; then
    emit incluster.service.tls skip "service TCP failed" "" "$st" "{$sv_d}"
  elif [ ! -r "$SA_DIR/ca.crt" ]; then
    emit incluster.service.tls skip "no CA at $SA_DIR/ca.crt (service account not mounted?)" "" \
      "$st" "{$sv_d}"
  else
    tls_probe "$SVC_HOST" "$SVC_PORT" "$SVC_HOST" "$SA_DIR/ca.crt"
    if [ "$V_MSG" = notool ]; then
      emit incluster.service.tls skip "no TLS tool: openssl and curl are both missing" "" "$st" \
        "{$sv_d}"
    elif [ $V_OK = yes ]; then
      sv_tls=yes
      emit incluster.service.tls ok "$V_MSG" "" "$st" "{$sv_d,$V_DETAILS}"
    else
      emit incluster.service.tls fail "$sv_hp: $V_MSG" "$(tls_hint "$SVC_HOST")" "$st" \
        "{$sv_d,$V_DETAILS}"
    fi
  fi

  for sv_path in /livez '/readyz?verbose'; do
    st=$(now_ms)
    sv_id=incluster.service.${sv_path#/}
    sv_id=${sv_id%%\?*}
    if [ $SVC_TCP = unknown ]; then
      emit "$sv_id" skip "service TCP not checked (curl and nc are missing)" "" "$st" "{$sv_d}"
    elif [ $SVC_TCP != yes ]; then
      emit "$sv_id" skip "service TCP failed" "" "$st" "{$sv_d}"
    elif [ $sv_tls != yes ]; then
      emit "$sv_id" skip "service TLS failed" "" "$st" "{$sv_d}"
    elif ! have curl; then
      emit "$sv_id" skip "curl is missing" "" "$st" "{$sv_d}"
    else
      check_health "$sv_id" "$sv_path" "https://$sv_hp$sv_path" "" "" "$st"
    fi
  done
}

# ------------------------------------------------------------------ endpoints

FIRST_ENDPOINT_IP=''

check_endpoint() {
  ep=$1
  st=$(now_ms)
  ep_port=${ep##*:}
  ep_ip=${ep%:*}
  ep_ip=${ep_ip#[}
  ep_ip=${ep_ip%]}
  ep_d="\"endpoint\":$(jstr "$ep")"
  case $ep_port in
    '' | *[!0-9]*) ep_bad=yes ;;
    *) ep_bad=no ;;
  esac
  if [ $ep_bad = yes ] || [ "$ep_ip" = "$ep" ] || [ -z "$ep_ip" ]; then
    emit incluster.endpoint.tcp fail "malformed endpoint '$ep' (want ip:port)" \
      "KP_ENDPOINTS holds space-separated ip:port pairs from the default/kubernetes EndpointSlice" \
      "$st" "{$ep_d}" "$ep"
    emit incluster.endpoint.tls skip "malformed endpoint" "" "$st" "{$ep_d}" "$ep"
    emit incluster.endpoint.readyz skip "malformed endpoint" "" "$st" "{$ep_d}" "$ep"
    return
  fi
  [ -n "$FIRST_ENDPOINT_IP" ] || FIRST_ENDPOINT_IP=$ep_ip
  tcp_probe "$ep_ip" "$ep_port"
  ep_tcp=no
  if [ $P_CLASS = notool ]; then
    ep_tcp=unknown
    emit incluster.endpoint.tcp skip "no TCP tool: curl and nc are both missing" "" "$st" \
      "{$ep_d}" "$ep"
  elif [ $P_OK = yes ]; then
    ep_tcp=yes
    emit incluster.endpoint.tcp ok "connected to $ep in ${P_MS} ms" "" "$st" \
      "{$ep_d,\"connectMs\":$P_MS}" "$ep"
  else
    emit incluster.endpoint.tcp fail "$ep: $P_MSG" "$(tcp_hint "$ep")" "$st" \
      "{$ep_d,\"error\":\"$P_CLASS\"}" "$ep"
  fi

  st=$(now_ms)
  ep_tls=no
  if [ $ep_tcp = unknown ]; then
    emit incluster.endpoint.tls skip "endpoint TCP not checked (curl and nc are missing)" "" \
      "$st" "{$ep_d}" "$ep"
  elif [ $ep_tcp != yes ]; then
    emit incluster.endpoint.tls skip "endpoint TCP failed" "" "$st" "{$ep_d}" "$ep"
  elif [ ! -r "$SA_DIR/ca.crt" ]; then
    emit incluster.endpoint.tls skip "no CA at $SA_DIR/ca.crt (service account not mounted?)" \
      "" "$st" "{$ep_d}" "$ep"
  else
    tls_probe "$ep_ip" "$ep_port" "$ENDPOINT_NAME" "$SA_DIR/ca.crt"
    if [ "$V_MSG" = notool ]; then
      emit incluster.endpoint.tls skip "no TLS tool: openssl and curl are both missing" "" \
        "$st" "{$ep_d}" "$ep"
    elif [ $V_OK = yes ]; then
      ep_tls=yes
      emit incluster.endpoint.tls ok "$V_MSG" "" "$st" "{$ep_d,$V_DETAILS}" "$ep"
    else
      emit incluster.endpoint.tls fail "$ep: $V_MSG" "$(tls_hint "$ENDPOINT_NAME")" "$st" \
        "{$ep_d,$V_DETAILS}" "$ep"
    fi
  fi

  st=$(now_ms)
  if [ $ep_tcp = unknown ]; then
    emit incluster.endpoint.readyz skip "endpoint TCP not checked (curl and nc are missing)" "" \
      "$st" "{$ep_d}" "$ep"
  elif [ $ep_tcp != yes ]; then
    emit incluster.endpoint.readyz skip "endpoint TCP failed" "" "$st" "{$ep_d}" "$ep"
  elif [ $ep_tls != yes ]; then
    emit incluster.endpoint.readyz skip "endpoint TLS failed" "" "$st" "{$ep_d}" "$ep"
  elif ! have curl; then
    emit incluster.endpoint.readyz skip "curl is missing" "" "$st" "{$ep_d}" "$ep"
  else
    check_health incluster.endpoint.readyz '/readyz?verbose' \
      "https://$ENDPOINT_NAME:$ep_port/readyz?verbose" \
      "$ENDPOINT_NAME:$ep_port:$(url_host "$ep_ip")" "$ep" "$st"
  fi
}

check_endpoints() {
  case ${KP_ENDPOINTS:-} in *[![:space:]]*) ce_empty=no ;; *) ce_empty=yes ;; esac
  if [ $ce_empty = yes ]; then
    emit incluster.endpoint.tcp skip "KP_ENDPOINTS is empty: no API-server endpoint to check" "" \
      "$(now_ms)" '{}'
    return
  fi
  for ce_ep in ${KP_ENDPOINTS}; do
    check_endpoint "$ce_ep"
  done
}

# ------------------------------------------------------------------ routes and MTU

ROUTE_DEV=''

check_route() {
  st=$(now_ms)
  rt_gw=''
  rt_dev=''
  rt_src=''
  if have ip; then
    rt_src='ip route'
    rt_line=$(ip route show default 2>/dev/null | head -n 1)
    # shellcheck disable=SC2086 # the route's words
    set -- $rt_line
    while [ $# -gt 0 ]; do
      case $1 in
        via) rt_gw=${2:-}; shift ;;
        dev) rt_dev=${2:-}; shift ;;
      esac
      shift
    done
  elif [ -r /proc/net/route ]; then
    rt_src=/proc/net/route
    rt_line=$(awk '$2 == "00000000" && $8 == "00000000" {print $1, $3; exit}' /proc/net/route)
    rt_dev=${rt_line%% *}
    rt_hex=${rt_line#* }
    if [ -n "$rt_line" ] && [ "$rt_hex" != 00000000 ]; then
      # Little-endian hex: 0100A8C0 is 192.168.0.1.
      rt_gw=$(printf '%d.%d.%d.%d' "0x${rt_hex#??????}" "0x$(echo "$rt_hex" | cut -c5-6)" \
        "0x$(echo "$rt_hex" | cut -c3-4)" "0x${rt_hex%??????}")
    fi
  else
    emit incluster.route.default skip "neither ip nor /proc/net/route is available" "" "$st" '{}'
    return
  fi
  rt_details="{\"source\":\"$rt_src\",\"gateway\":$(jstr "$rt_gw"),\"device\":$(jstr "$rt_dev")}"
  if [ -n "$rt_dev" ]; then
    ROUTE_DEV=$rt_dev
    emit incluster.route.default ok "default route${rt_gw:+ via $rt_gw} dev $rt_dev" "" "$st" \
      "$rt_details"
    return
  fi
  rt_to=''
  if [ -n "$SVC_HOST" ] && have ip; then
    rt_to=$(ip route get "$SVC_HOST" 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1)
  fi
  if [ -n "$rt_to" ]; then
    ROUTE_DEV=$rt_to
    emit incluster.route.default warn "no default route; $SVC_HOST is reached via dev $rt_to" \
      "pods normally have a default route from the CNI: check the CNI configuration (ip route in the pod)" \
      "$st" "$rt_details"
  else
    emit incluster.route.default fail "no default route" \
      "the CNI did not give the pod a default route: check the CNI plugin's configuration and logs on this node" \
      "$st" "$rt_details"
  fi
}

check_mtu() {
  st=$(now_ms)
  if [ -z "$ROUTE_DEV" ]; then
    emit incluster.mtu skip "no default route: no interface to measure" "" "$st" '{}'
    return
  fi
  mt_mtu=$(cat "/sys/class/net/$ROUTE_DEV/mtu" 2>/dev/null)
  if [ -z "$mt_mtu" ] && have ip; then
    mt_mtu=$(ip link show "$ROUTE_DEV" 2>/dev/null | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
  fi
  case $mt_mtu in '' | *[!0-9]*) mt_mtu='' ;; esac
  mt_target=${SVC_HOST:-$FIRST_ENDPOINT_IP}
  mt_d="\"device\":$(jstr "$ROUTE_DEV"),\"mtu\":${mt_mtu:-null},\"target\":$(jstr "$mt_target")"
  if [ -z "$mt_mtu" ]; then
    emit incluster.mtu skip "cannot read the MTU of $ROUTE_DEV" "" "$st" "{$mt_d}"
    return
  fi
  mt_pre="MTU $mt_mtu on $ROUTE_DEV"
  if [ "${KP_PROFILE:-}" = restricted ]; then
    emit incluster.mtu skip "$mt_pre; path MTU not probed: restricted profile: no raw sockets" "" \
      "$st" "{$mt_d,\"probe\":\"skipped\"}"
    return
  fi
  if ! have ping; then
    emit incluster.mtu skip "$mt_pre; path MTU not probed: ping is missing" "" "$st" \
      "{$mt_d,\"probe\":\"skipped\"}"
    return
  fi
  if [ -z "$mt_target" ]; then
    emit incluster.mtu skip "$mt_pre; path MTU not probed: no service IP or endpoint to ping" "" \
      "$st" "{$mt_d,\"probe\":\"skipped\"}"
    return
  fi
  case $mt_target in *:*) mt_hdr=48 ;; *) mt_hdr=28 ;; esac
  mt_size=$((mt_mtu - mt_hdr))
  # An IP packet carries at most 65535 bytes (loopback's MTU is 65536).
  [ $mt_size -le $((65535 - mt_hdr)) ] || mt_size=$((65535 - mt_hdr))
  mt_w=2
  [ "$T" -ge 2 ] || mt_w=1
  to $((mt_w + 1)) ping -c1 -W$mt_w -s 56 "$mt_target" >"$TMP/ping" 2>&1
  mt_rc=$?
  if grep -qi -e 'not permitted' -e 'permission denied' -e 'operation not' "$TMP/ping"; then
    emit incluster.mtu skip "$mt_pre; path MTU not probed: ping is not permitted (no raw sockets: CAP_NET_RAW or net.ipv4.ping_group_range)" \
      "" "$st" "{$mt_d,\"probe\":\"skipped\"}"
    return
  fi
  if [ $mt_rc != 0 ]; then
    emit incluster.mtu skip "$mt_pre; path MTU not probed: no ICMP echo reply from $mt_target even for small packets (ICMP filtered?)" \
      "" "$st" "{$mt_d,\"probe\":\"no-reply\"}"
    return
  fi
  to $((mt_w + 1)) ping -c1 -W$mt_w -M "do" -s $mt_size "$mt_target" >"$TMP/ping" 2>&1
  mt_rc=$?
  mt_d="$mt_d,\"payload\":$mt_size"
  if grep -qi -e 'invalid option' -e 'unrecognized option' -e 'usage' "$TMP/ping"; then
    emit incluster.mtu skip "$mt_pre; path MTU not probed: this ping cannot set DF (-M do; busybox ping?)" \
      "" "$st" "{$mt_d,\"probe\":\"skipped\"}"
  elif [ $mt_rc = 0 ]; then
    emit incluster.mtu ok "$mt_pre; $mt_mtu-byte packets with DF set reach $mt_target" "" "$st" \
      "{$mt_d,\"probe\":\"ok\"}"
  else
    mt_local=$(grep -i -m1 -e 'too long' -e 'frag' "$TMP/ping" | cut -c1-200)
    emit incluster.mtu fail "$mt_pre; $mt_mtu-byte packets with DF set to $mt_target are lost while small ones pass${mt_local:+ ($mt_local)}" \
      "the path MTU is below the pod's MTU $mt_mtu (overlay or tunnel encapsulation?): lower the CNI's MTU (e.g. Calico veth_mtu, Flannel/Cilium mtu) to the node MTU minus the encapsulation overhead, and let ICMP fragmentation-needed through" \
      "$st" "{$mt_d,\"probe\":\"dropped\"}"
  fi
}

# ------------------------------------------------------------------ main

log "timeout ${T}s, cluster domain $DOMAIN, service ${SVC_HOST:-unset}:$SVC_PORT, endpoints ${KP_ENDPOINTS:-none}"
check_resolvconf
check_dns_fqdn
check_dns_search
check_service
check_endpoints
check_route
check_mtu
exit 0
