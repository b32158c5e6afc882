//! The examples of RFC 7541 Appendix C, byte for byte, in both directions.
//!
//! C.1 (integers) lives beside the integer code; this file covers C.2 to C.6,
//! checking the decoded fields, the dynamic table after every block and that
//! the encoder reproduces the same octets.

use bytes::Bytes;

use super::{Decoder, Encoder, Header, HuffmanPolicy, IndexPolicy};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn fields(list: &[(&str, &str)]) -> Vec<Header> {
    list.iter()
        .map(|&(n, v)| Header::new(n.to_owned(), v.to_owned()))
        .collect()
}

/// One header block of an example, with the table it leaves behind.
struct Block {
    hex: &'static str,
    headers: &'static [(&'static str, &'static str)],
    /// Newest entry first.
    table: &'static [(&'static str, &'static str)],
    table_size: usize,
}

/// Runs a sequence of blocks through a decoder and an encoder that share a
/// table size of `table_size`.
fn run(blocks: &[Block], table_size: usize, huffman: HuffmanPolicy) {
    let mut decoder = Decoder::new(table_size);
    let mut encoder = Encoder::new();
    encoder.set_index_policy(IndexPolicy::Always);
    encoder.set_huffman_policy(huffman);
    // The examples assume both sides start at `table_size`. In HTTP/2 the
    // encoder has to announce it, so its first block carries a size update;
    // a decoder that starts at 4096 and is told about the lower setting
    // accepts exactly that.
    let mut peer_of_encoder = Decoder::new(4096);
    let mut prefix = Vec::new();
    if table_size != 4096 {
        encoder.set_max_table_size(table_size);
        peer_of_encoder.set_max_table_size(table_size);
        super::integer::encode(table_size, 5, 0x20, &mut prefix);
    }

    for (i, block) in blocks.iter().enumerate() {
        let bytes = hex(block.hex);
        let expected = fields(block.headers);
        let table = fields(block.table);

        let decoded = decoder.decode_to_vec(&Bytes::from(bytes.clone())).unwrap();
        assert_eq!(decoded, expected, "decoded block {i}");
        assert_eq!(
            decoder.table_entries(),
            table,
            "decoder table after block {i}"
        );
        assert_eq!(
            decoder.table_size(),
            block.table_size,
            "decoder size after block {i}"
        );

        let mut encoded = Vec::new();
        encoder.encode(&expected, &mut encoded);
        let body = if i == 0 {
            assert_eq!(
                encoded[..prefix.len()],
                prefix[..],
                "size update of block {i}"
            );
            &encoded[prefix.len()..]
        } else {
            &encoded[..]
        };
        assert_eq!(body, &bytes[..], "encoded block {i}");
        assert_eq!(
            encoder.table_entries(),
            table,
            "encoder table after block {i}"
        );
        assert_eq!(
            encoder.table_size(),
            block.table_size,
            "encoder size after block {i}"
        );

        let redecoded = peer_of_encoder
            .decode_to_vec(&Bytes::from(encoded))
            .unwrap();
        assert_eq!(redecoded, expected, "re-decoded block {i}");
    }
}

/// Decodes one self-contained C.2 example and checks that the given encoder
/// settings reproduce it.
fn single(hex_str: &str, header: Header, index: IndexPolicy, table: &[(&str, &str)], size: usize) {
    let bytes = hex(hex_str);
    let mut decoder = Decoder::new(4096);
    let decoded = decoder.decode_to_vec(&Bytes::from(bytes.clone())).unwrap();
    assert_eq!(decoded, std::slice::from_ref(&header));
    assert_eq!(decoder.table_entries(), fields(table));
    assert_eq!(decoder.table_size(), size);

    let mut encoder = Encoder::new();
    encoder.set_index_policy(index);
    encoder.set_huffman_policy(HuffmanPolicy::Never);
    let mut encoded = Vec::new();
    encoder.encode([&header], &mut encoded);
    assert_eq!(encoded, bytes);
    assert_eq!(encoder.table_entries(), fields(table));
}

#[test]
fn c_2_1_literal_with_indexing() {
    single(
        "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
        Header::new("custom-key", "custom-header"),
        IndexPolicy::Always,
        &[("custom-key", "custom-header")],
        55,
    );
}

#[test]
fn c_2_2_literal_without_indexing() {
    single(
        "040c 2f73 616d 706c 652f 7061 7468",
        Header::new(":path", "/sample/path"),
        IndexPolicy::Never,
        &[],
        0,
    );
}

#[test]
fn c_2_3_literal_never_indexed() {
    single(
        "1008 7061 7373 776f 7264 0673 6563 7265 74",
        Header::sensitive("password", "secret"),
        IndexPolicy::Always,
        &[],
        0,
    );
}

#[test]
fn c_2_4_indexed() {
    single(
        "82",
        Header::new(":method", "GET"),
        IndexPolicy::Always,
        &[],
        0,
    );
}

const REQUEST_1: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
];
const REQUEST_2: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
    ("cache-control", "no-cache"),
];
const REQUEST_3: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/index.html"),
    (":authority", "www.example.com"),
    ("custom-key", "custom-value"),
];
const REQUEST_TABLE_1: &[(&str, &str)] = &[(":authority", "www.example.com")];
const REQUEST_TABLE_2: &[(&str, &str)] = &[
    ("cache-control", "no-cache"),
    (":authority", "www.example.com"),
];
const REQUEST_TABLE_3: &[(&str, &str)] = &[
    ("custom-key", "custom-value"),
    ("cache-control", "no-cache"),
    (":authority", "www.example.com"),
];

#[test]
fn c_3_requests_without_huffman() {
    run(
        &[
            Block {
                hex: "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                headers: REQUEST_1,
                table: REQUEST_TABLE_1,
                table_size: 57,
            },
            Block {
                hex: "8286 84be 5808 6e6f 2d63 6163 6865",
                headers: REQUEST_2,
                table: REQUEST_TABLE_2,
                table_size: 110,
            },
            Block {
                hex: "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
                headers: REQUEST_3,
                table: REQUEST_TABLE_3,
                table_size: 164,
            },
        ],
        4096,
        HuffmanPolicy::Never,
    );
}

#[test]
fn c_4_requests_with_huffman() {
    run(
        &[
            Block {
                hex: "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                headers: REQUEST_1,
                table: REQUEST_TABLE_1,
                table_size: 57,
            },
            Block {
                hex: "8286 84be 5886 a8eb 1064 9cbf",
                headers: REQUEST_2,
                table: REQUEST_TABLE_2,
                table_size: 110,
            },
            Block {
                hex: "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
                headers: REQUEST_3,
                table: REQUEST_TABLE_3,
                table_size: 164,
            },
        ],
        4096,
        HuffmanPolicy::Always,
    );
}

const DATE_1: &str = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE_2: &str = "Mon, 21 Oct 2013 20:13:22 GMT";
const LOCATION: &str = "https://www.example.com";
const COOKIE: &str = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

const RESPONSE_1: &[(&str, &str)] = &[
    (":status", "302"),
    ("cache-control", "private"),
    ("date", DATE_1),
    ("location", LOCATION),
];
const RESPONSE_2: &[(&str, &str)] = &[
    (":status", "307"),
    ("cache-control", "private"),
    ("date", DATE_1),
    ("location", LOCATION),
];
const RESPONSE_3: &[(&str, &str)] = &[
    (":status", "200"),
    ("cache-control", "private"),
    ("date", DATE_2),
    ("location", LOCATION),
    ("content-encoding", "gzip"),
    ("set-cookie", COOKIE),
];
const RESPONSE_TABLE_1: &[(&str, &str)] = &[
    ("location", LOCATION),
    ("date", DATE_1),
    ("cache-control", "private"),
    (":status", "302"),
];
const RESPONSE_TABLE_2: &[(&str, &str)] = &[
    (":status", "307"),
    ("location", LOCATION),
    ("date", DATE_1),
    ("cache-control", "private"),
];
const RESPONSE_TABLE_3: &[(&str, &str)] = &[
    ("set-cookie", COOKIE),
    ("content-encoding", "gzip"),
    ("date", DATE_2),
];

#[test]
fn c_5_responses_without_huffman() {
    run(
        &[
            Block {
                hex: "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 \
                      2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 \
                      6c65 2e63 6f6d",
                headers: RESPONSE_1,
                table: RESPONSE_TABLE_1,
                table_size: 222,
            },
            Block {
                hex: "4803 3330 37c1 c0bf",
                headers: RESPONSE_2,
                table: RESPONSE_TABLE_2,
                table_size: 222,
            },
            Block {
                hex: "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d \
                      54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 \
                      5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e \
                      3d31",
                headers: RESPONSE_3,
                table: RESPONSE_TABLE_3,
                table_size: 215,
            },
        ],
        256,
        HuffmanPolicy::Never,
    );
}

#[test]
fn c_6_responses_with_huffman() {
    run(
        &[
            Block {
                hex: "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 \
                      2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                headers: RESPONSE_1,
                table: RESPONSE_TABLE_1,
                table_size: 222,
            },
            Block {
                hex: "4883 640e ffc1 c0bf",
                headers: RESPONSE_2,
                table: RESPONSE_TABLE_2,
                table_size: 222,
            },
            Block {
                hex: "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab \
                      77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f \
                      9587 3160 65c0 03ed 4ee5 b106 3d50 07",
                headers: RESPONSE_3,
                table: RESPONSE_TABLE_3,
                table_size: 215,
            },
        ],
        256,
        HuffmanPolicy::Always,
    );
}
