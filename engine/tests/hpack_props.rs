//! Property tests: encoder/decoder round trips under changing table sizes and
//! policies, Huffman round trips, and decoding arbitrary input without panics.

mod hpack {
    use bytes::Bytes;
    use grpc_sansio::hpack::{
        huffman, integer, Decoder, Encoder, Header, HuffmanPolicy, IndexPolicy,
    };
    use proptest::prelude::*;

    /// Names that hit the static table, the credential rules and the volatile
    /// list, mixed with arbitrary octets.
    fn name() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => prop::sample::select(vec![
                ":path", ":authority", ":method", ":status", "content-type", "te",
                "user-agent", "grpc-timeout", "grpc-status", "authorization", "cookie",
                "custom-key", "x",
            ])
            .prop_map(|s| s.as_bytes().to_vec()),
            2 => prop::collection::vec(any::<u8>(), 0..24),
        ]
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => prop::sample::select(vec!["", "GET", "POST", "/", "200", "trailers", "a=b", "gzip"])
                .prop_map(|s| s.as_bytes().to_vec()),
            4 => prop::collection::vec(any::<u8>(), 0..64),
            1 => prop::collection::vec(any::<u8>(), 0..3000),
        ]
    }

    fn header() -> impl Strategy<Value = Header> {
        (name(), value(), prop::bool::weighted(0.1)).prop_map(|(n, v, s)| Header {
            name: n.into(),
            value: v.into(),
            sensitive: s,
        })
    }

    fn index_policy() -> impl Strategy<Value = IndexPolicy> {
        prop::sample::select(vec![
            IndexPolicy::Default,
            IndexPolicy::Always,
            IndexPolicy::Never,
        ])
    }

    fn huffman_policy() -> impl Strategy<Value = HuffmanPolicy> {
        prop::sample::select(vec![
            HuffmanPolicy::WhenShorter,
            HuffmanPolicy::Always,
            HuffmanPolicy::Never,
        ])
    }

    /// Between blocks the receiver may change its table setting (which the
    /// sender then learns), or the sender its own cap.
    #[derive(Debug, Clone)]
    enum Change {
        None,
        PeerSetting(usize),
        OwnCap(usize),
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            4 => Just(Change::None),
            2 => (0usize..6000).prop_map(Change::PeerSetting),
            1 => (0usize..6000).prop_map(Change::OwnCap),
        ]
    }

    fn credential(h: &Header) -> bool {
        match &h.name[..] {
            b"authorization" | b"proxy-authorization" => true,
            b"cookie" => h.value.len() < 20,
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn hpack_round_trip(
            blocks in prop::collection::vec(
                (change(), prop::collection::vec(header(), 0..12)),
                1..8,
            ),
            index in index_policy(),
            coding in huffman_policy(),
        ) {
            let mut encoder = Encoder::new();
            encoder.set_index_policy(index);
            encoder.set_huffman_policy(coding);
            let mut decoder = Decoder::new(4096);
            decoder.set_max_header_list_size(usize::MAX);
            for (change, headers) in blocks {
                match change {
                    Change::None => {}
                    Change::PeerSetting(size) => {
                        decoder.set_max_table_size(size);
                        encoder.set_max_table_size(size);
                    }
                    Change::OwnCap(size) => encoder.set_max_own_table_size(size),
                }
                let mut block = Vec::new();
                encoder.encode(&headers, &mut block);
                let decoded = decoder.decode_to_vec(&Bytes::from(block)).unwrap();
                prop_assert_eq!(decoded.len(), headers.len());
                for (got, sent) in decoded.iter().zip(&headers) {
                    prop_assert_eq!(&got.name, &sent.name);
                    prop_assert_eq!(&got.value, &sent.value);
                    prop_assert_eq!(got.sensitive, sent.sensitive || credential(sent));
                }
                prop_assert_eq!(decoder.table_size(), encoder.table_size());
            }
        }

        #[test]
        fn hpack_decoding_arbitrary_bytes_never_panics(
            prefix in prop::collection::vec(header(), 0..6),
            garbage in prop::collection::vec(any::<u8>(), 0..512),
            table_size in 0usize..5000,
            list_limit in 0usize..20000,
        ) {
            // Some real state first, so that dynamic indices can resolve.
            let mut decoder = Decoder::new(4096);
            let mut block = Vec::new();
            Encoder::new().encode(&prefix, &mut block);
            decoder.set_max_header_list_size(usize::MAX);
            decoder.decode_to_vec(&Bytes::from(block)).unwrap();
            decoder.set_max_table_size(table_size);
            decoder.set_max_header_list_size(list_limit);
            let garbage = Bytes::from(garbage);
            let _ = decoder.decode(&garbage, |_| {});
            let _ = decoder.decode(&garbage, |_| {});
            prop_assert!(decoder.table_size() <= 4096);
        }

        /// Blocks assembled from plausible representations with random fields
        /// reach much deeper than uniform noise.
        #[test]
        fn hpack_decoding_structured_noise_never_panics(
            parts in prop::collection::vec(
                (0u8..5, 0usize..100, prop::collection::vec(any::<u8>(), 0..40), any::<bool>(), any::<u8>()),
                0..40,
            ),
            list_limit in 0usize..4000,
        ) {
            let mut block = Vec::new();
            for (kind, number, text, huff, raw) in parts {
                let string = |block: &mut Vec<u8>| {
                    if huff {
                        let mut coded = Vec::new();
                        huffman::encode(&text, &mut coded);
                        integer::encode(coded.len(), 7, 0x80, block);
                        block.extend_from_slice(&coded);
                    } else {
                        integer::encode(text.len(), 7, 0, block);
                        block.extend_from_slice(&text);
                    }
                };
                match kind {
                    0 => integer::encode(number, 7, 0x80, &mut block),
                    1 => {
                        integer::encode(number % 70, 6, 0x40, &mut block);
                        if number % 70 == 0 {
                            string(&mut block);
                        }
                        string(&mut block);
                    }
                    2 => {
                        integer::encode(number % 70, 4, if raw & 1 == 0 { 0x00 } else { 0x10 }, &mut block);
                        if number % 70 == 0 {
                            string(&mut block);
                        }
                        string(&mut block);
                    }
                    3 => integer::encode(number * 50, 5, 0x20, &mut block),
                    _ => block.push(raw),
                }
            }
            let mut decoder = Decoder::new(4096);
            decoder.set_max_header_list_size(list_limit);
            let block = Bytes::from(block);
            let mut total = 0usize;
            let _ = decoder.decode(&block, |h| total += h.size());
            prop_assert!(total <= list_limit);
            prop_assert!(decoder.table_size() <= 4096);
            let _ = decoder.decode(&block, |_| {});
        }

        #[test]
        fn hpack_huffman_round_trip(data in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut coded = Vec::new();
            huffman::encode(&data, &mut coded);
            prop_assert_eq!(coded.len(), huffman::encoded_len(&data));
            let mut decoded = Vec::new();
            huffman::decode(&coded, &mut decoded).unwrap();
            prop_assert_eq!(decoded, data);
        }

        /// The code is prefix-free and the padding rules leave no choice, so a
        /// string that decodes has exactly one valid coding: its own.
        #[test]
        fn hpack_huffman_accepted_input_is_canonical(data in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut decoded = Vec::new();
            if huffman::decode(&data, &mut decoded).is_ok() {
                let mut coded = Vec::new();
                huffman::encode(&decoded, &mut coded);
                prop_assert_eq!(coded, data);
            }
        }

        #[test]
        fn hpack_integer_round_trip(value in 0usize..=u32::MAX as usize, prefix in 1u8..=8, flags in any::<u8>()) {
            let mut out = Vec::new();
            integer::encode(value, prefix, flags, &mut out);
            prop_assert_eq!(integer::decode(&out, prefix), Ok((value, out.len())));
            // The flag bits survive above the prefix.
            let mask = u8::MAX >> (8 - prefix);
            prop_assert_eq!(out[0] & !mask, flags & !mask);
        }
    }
}
