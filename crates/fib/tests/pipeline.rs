//! The packet pipeline: forwarding rewrite, exceptions to the slow path,
//! and ECMP flow stability.

use clos_fib::ecmp::BUCKETS;
use clos_fib::pipeline::frames;
use clos_fib::tools::demo_nexthops;
use clos_fib::{
    flow_hash, Action, Change, Exception, FibWriter, FlowKey, NextHop, NextHopGroup, Pipeline,
    Prefix, Route, SlowPathQueue, Table,
};

fn r4(s: &str, nexthop: u32) -> Route<u32> {
    Route {
        prefix: s.parse().unwrap(),
        nexthop,
    }
}

fn run(
    v4: &Table<u32>,
    v6: &Table<u128>,
    mut frames: Vec<Vec<u8>>,
) -> (Vec<Vec<u8>>, Vec<Action>, SlowPathQueue) {
    let mut pipeline = Pipeline::new();
    let mut slow = SlowPathQueue::new(16);
    let mut actions = Vec::new();
    let nexthops = demo_nexthops();
    let mut refs: Vec<&mut [u8]> = frames.iter_mut().map(|f| f.as_mut_slice()).collect();
    pipeline.process(v4, v6, &nexthops, &mut refs, &mut actions, &mut slow);
    (frames, actions, slow)
}

#[test]
fn forwards_and_punts() {
    let v4 = Table::build(&[r4("198.51.100.0/24", 3), r4("203.0.113.0/24", 99)]);
    let v6 = Table::build(&[Route::<u128> {
        prefix: "2001:db8::/32".parse().unwrap(),
        nexthop: 5,
    }]);
    let good = frames::ipv4_udp(0x0a00_0001, 0xc633_6401, 64, 1000, 53);
    let mut bad_sum = good.clone();
    bad_sum[24] ^= 1;
    let mut arp = good.clone();
    arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    let input = vec![
        good.clone(),
        frames::ipv4_udp(0x0a00_0001, 0xc633_6401, 1, 1000, 53),
        frames::ipv4_udp(0x0a00_0001, 0x0808_0808, 64, 1000, 53),
        bad_sum,
        arp,
        good[..30].to_vec(),
        frames::ipv4_udp(0x0a00_0001, 0xcb00_7101, 64, 1000, 53),
        frames::ipv6_udp(1, 0x2001_0db8 << 96 | 7, 64, 1, 2),
        frames::ipv6_udp(1, 0x2001_0db8 << 96 | 7, 1, 1, 2),
    ];
    let (out, actions, mut slow) = run(&v4, &v6, input.clone());
    assert_eq!(actions[0], Action::Forward { port: 3 });
    assert_eq!(actions[1], Action::Punt(Exception::TtlExpired));
    assert_eq!(actions[2], Action::Punt(Exception::NoRoute));
    assert_eq!(actions[3], Action::Punt(Exception::BadHeader));
    assert_eq!(actions[4], Action::Punt(Exception::NotIp));
    assert_eq!(actions[5], Action::Punt(Exception::BadHeader));
    assert_eq!(actions[6], Action::Punt(Exception::UnknownNextHop));
    assert_eq!(actions[7], Action::Forward { port: 5 });
    assert_eq!(actions[8], Action::Punt(Exception::TtlExpired));
    // Forwarded: TTL down by one, checksum still valid, MACs rewritten.
    assert_eq!(out[0][14 + 8], 63);
    assert!(frames::ipv4_checksum_ok(&out[0], 14));
    let nh = demo_nexthops();
    let expect = nh.get(3).unwrap().members()[0];
    assert_eq!(&out[0][0..6], &expect.dst_mac);
    assert_eq!(&out[0][6..12], &expect.src_mac);
    assert_eq!(out[7][14 + 7], 63);
    // Punted frames are queued unmodified, in order.
    let first = slow.pop().unwrap();
    assert_eq!(first.reason, Exception::TtlExpired);
    assert_eq!(first.frame, input[1]);
    assert_eq!(slow.len(), 6);
}

#[test]
fn slow_path_queue_is_bounded() {
    let v4 = Table::<u32>::new();
    let v6 = Table::<u128>::new();
    let input = vec![frames::ipv4_udp(1, 2, 64, 1, 2); 40];
    let (_, actions, slow) = run(&v4, &v6, input);
    assert!(actions
        .iter()
        .all(|a| *a == Action::Punt(Exception::NoRoute)));
    assert_eq!(slow.len(), 16);
    assert_eq!(slow.dropped(), 24);
}

fn member_of(group: &NextHopGroup, key: &FlowKey) -> u16 {
    group.select(flow_hash(key)).port
}

fn hop(port: u16) -> NextHop {
    NextHop {
        dst_mac: [2, 0, 0, 0, 0, port as u8],
        src_mac: [2, 1, 0, 0, 0, 0],
        port,
    }
}

fn flows() -> Vec<FlowKey> {
    (0..2000u16)
        .map(|i| FlowKey {
            src: 0x0a00_0000 | i as u128,
            dst: 0xc633_6401,
            protocol: 6,
            src_port: 40000 + i,
            dst_port: 443,
        })
        .collect()
}

#[test]
fn ecmp_spreads_and_removal_moves_only_that_members_flows() {
    let mut group = NextHopGroup::new((0..4).map(hop).collect()).unwrap();
    let before: Vec<u16> = flows().iter().map(|k| member_of(&group, k)).collect();
    for port in 0..4 {
        let share = before.iter().filter(|&&p| p == port).count();
        assert!(
            (300..700).contains(&share),
            "member {port} has {share} of 2000 flows"
        );
    }
    group.remove_member(2).unwrap();
    let after: Vec<u16> = flows().iter().map(|k| member_of(&group, k)).collect();
    for (b, a) in before.iter().zip(&after) {
        if *b != 2 {
            assert_eq!(b, a, "a flow not on the removed member moved");
        } else {
            assert_ne!(*a, 2);
        }
    }
    group.add_member(hop(9)).unwrap();
    let added: Vec<u16> = flows().iter().map(|k| member_of(&group, k)).collect();
    let moved = after.iter().zip(&added).filter(|(a, b)| a != b).count();
    assert!(added.iter().zip(&after).all(|(n, o)| n == o || *n == 9));
    assert!(moved < 2000 / 2, "adding a member moved {moved} flows");
    assert!(group.remove_member(0).is_ok());
    assert!(NextHopGroup::new(vec![]).is_err());
    assert!(NextHopGroup::new((0..(BUCKETS as u16 + 1)).map(hop).collect()).is_err());
}

#[test]
fn flows_stay_put_across_unrelated_route_updates() {
    let p = |s: &str| s.parse::<Prefix<u32>>().unwrap();
    let mut writer = FibWriter::new(&[r4("198.51.100.0/24", 0), r4("10.0.0.0/8", 1)]).unwrap();
    let reader = writer.reader();
    let nexthops = demo_nexthops(); // id 0 is a 4-way group
    let pick = |table: &Table<u32>, k: &FlowKey| {
        let id = table.lookup(k.dst as u32).unwrap();
        nexthops.select(id, flow_hash(k)).unwrap().port
    };
    let before: Vec<u16> = flows()
        .iter()
        .map(|k| pick(&reader.snapshot(), k))
        .collect();
    for i in 0..200u32 {
        writer
            .apply(&[
                Change::Announce(r4(&format!("172.16.{}.0/24", i % 256), i % 16)),
                Change::Withdraw(p("10.0.0.0/8")),
            ])
            .unwrap();
    }
    let after: Vec<u16> = flows()
        .iter()
        .map(|k| pick(&reader.snapshot(), k))
        .collect();
    assert_eq!(before, after);
}
