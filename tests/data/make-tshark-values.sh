#!/bin/sh
# Regenerates tshark-isakmp-values.txt: Wireshark's own ISAKMP value tables, as dumped by
# `tshark -G values`, trimmed to the fields that src/decode/ike/names.rs is compared against
# (see the `tshark_tables_agree` unit test there).
#
# Columns (tab-separated), as tshark prints them:
#   V <field> <value> <name>          value_string entries
#   R <field> <low> <high> <name>     range_string entries
# One field may hold several tables (IKEv1 first, then IKEv2): the value restarts at 0.
set -eu
out="$(dirname "$0")/tshark-isakmp-values.txt"
{
    echo "# tshark -G values, ISAKMP fields only; made by make-tshark-values.sh"
    echo "# $(tshark -v 2>/dev/null | head -n 1)"
    tshark -G values 2>/dev/null | grep -P '^[VR]\tisakmp\.(exchangetype|nextpayload|notify\.msgtype|tf\.type|tf\.id\.(encr|prf|integ|esn)|prop\.protoid|id\.type|ike\.attr\.(type|encryption_algorithm|hash_algorithm|authentication_method|life_type|group_type)|ipsec\.attr\.(type|encap_mode|auth_algorithm|life_type|ecn_tunnel|ext_seq_nbr|addr_preservation|sa_direction))\t'
} >"$out"
