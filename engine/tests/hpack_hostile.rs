//! Hostile header blocks against the public decoder API: each must fail with
//! the precise error, without panicking, and leave no unbounded state behind.

mod hpack {
    use bytes::Bytes;
    use grpc_sansio::hpack::{DecodeError, Decoder, Encoder, Header, HuffmanError, IndexPolicy};

    fn decode(d: &mut Decoder, bytes: &[u8]) -> Result<Vec<Header>, DecodeError> {
        d.decode_to_vec(&Bytes::copy_from_slice(bytes))
    }

    #[test]
    fn truncated_integer_continuation() {
        assert_eq!(
            decode(&mut Decoder::new(4096), &[0x3f]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode(&mut Decoder::new(4096), &[0xff]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode(&mut Decoder::new(4096), &[0xff, 0x80]),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn huge_integers() {
        let mut block = vec![0xff];
        block.extend_from_slice(&[0xff; 64]);
        assert_eq!(
            decode(&mut Decoder::new(4096), &block),
            Err(DecodeError::IntegerOverflow)
        );
        // 2^32 as an index.
        assert_eq!(
            decode(
                &mut Decoder::new(4096),
                &[0xff, 0x81, 0xff, 0xff, 0xff, 0x0f]
            ),
            Err(DecodeError::IntegerOverflow)
        );
    }

    #[test]
    fn bad_indices() {
        assert!(matches!(
            decode(&mut Decoder::new(4096), &[0x80]),
            Err(DecodeError::InvalidIndex { index: 0, .. })
        ));
        assert!(matches!(
            decode(&mut Decoder::new(4096), &[0xff, 0x00]),
            Err(DecodeError::InvalidIndex {
                index: 127,
                max: 61
            })
        ));
    }

    #[test]
    fn table_size_updates() {
        assert!(matches!(
            decode(&mut Decoder::new(0), &[0x21]),
            Err(DecodeError::TableSizeUpdateTooLarge {
                requested: 1,
                max: 0
            })
        ));
        assert_eq!(
            decode(&mut Decoder::new(4096), &[0x82, 0x3f, 0x00]),
            Err(DecodeError::TableSizeUpdateNotAtStart)
        );
        let mut d = Decoder::new(4096);
        d.set_max_table_size(1024);
        assert!(matches!(
            decode(&mut d, &[0x82]),
            Err(DecodeError::TableSizeUpdateMissing { max: 1024 })
        ));
    }

    #[test]
    fn bad_huffman() {
        let cases: [(&[u8], HuffmanError); 3] = [
            // 'a' (00011) padded with 000.
            (&[0x00, 0x81, 0x18, 0x00], HuffmanError::PaddingNotOnes),
            (&[0x00, 0x81, 0xff, 0x00], HuffmanError::PaddingTooLong),
            (
                &[0x00, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00],
                HuffmanError::Eos,
            ),
        ];
        for (block, err) in cases {
            assert_eq!(
                decode(&mut Decoder::new(4096), block),
                Err(DecodeError::InvalidHuffman(err)),
                "{block:02x?}"
            );
        }
    }

    #[test]
    fn string_longer_than_input() {
        assert_eq!(
            decode(&mut Decoder::new(4096), &[0x00, 0x7f, 0x00, b'a']),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode(&mut Decoder::new(4096), &[0x00, 0x01, b'a', 0x02, b'b']),
            Err(DecodeError::Truncated)
        );
    }

    /// One entry of almost the whole table, then thousands of one-octet
    /// references to it: 4 KiB of input would expand to 40 MB of header list.
    /// The decoder must stop emitting at the limit, finish the block so that
    /// its table follows the peer's, and report a stream-level error.
    #[test]
    fn reference_bomb_is_stopped_and_tables_stay_in_sync() {
        let mut decoder = Decoder::new(4096);
        let mut encoder = Encoder::new();
        encoder.set_index_policy(IndexPolicy::Always);
        let big = Header::new("x", vec![b'a'; 4000]);
        let size = big.size();
        let mut block = Vec::new();
        encoder.encode([&big], &mut block);
        decoder.decode_to_vec(&Bytes::from(block)).unwrap();
        assert_eq!(decoder.table_size(), size);

        // 10_000 references, then a new entry at the end of the same block.
        let mut bomb = vec![0xbe; 10_000];
        bomb.extend_from_slice(&[0x40, 0x01, b'k', 0x01, b'v']);
        let mut emitted = 0usize;
        let mut emitted_size = 0usize;
        let result = decoder.decode(&Bytes::from(bomb), |h| {
            emitted += 1;
            emitted_size += h.size();
        });
        assert_eq!(
            result,
            Err(DecodeError::HeaderListTooLarge { limit: 16384 })
        );
        assert_eq!(emitted, 16384 / size);
        assert!(emitted_size <= 16384);
        assert!(!result.unwrap_err().is_connection_error());

        // The entry after the bomb was added: 62 is "k: v", 63 the big one.
        let next = decoder
            .decode_to_vec(&Bytes::from_static(&[0xbe, 0xbf]))
            .unwrap();
        assert_eq!(next, [Header::new("k", "v"), big]);
    }

    #[test]
    fn list_limit_counts_literals_too() {
        let mut d = Decoder::new(4096);
        d.set_max_header_list_size(40);
        // "a: b" is 34; the second one exceeds 40.
        let block = [0x00, 0x01, b'a', 0x01, b'b', 0x00, 0x01, b'a', 0x01, b'b'];
        let mut seen = Vec::new();
        let result = d.decode(&Bytes::copy_from_slice(&block), |h| seen.push(h));
        assert_eq!(result, Err(DecodeError::HeaderListTooLarge { limit: 40 }));
        assert_eq!(seen, [Header::new("a", "b")]);
    }

    #[test]
    fn errors_other_than_list_size_are_connection_errors() {
        assert!(DecodeError::Truncated.is_connection_error());
        assert!(DecodeError::TableSizeUpdateNotAtStart.is_connection_error());
        assert!(!DecodeError::HeaderListTooLarge { limit: 1 }.is_connection_error());
    }

    #[test]
    fn error_messages_are_specific() {
        let e = DecodeError::TableSizeUpdateTooLarge {
            requested: 9000,
            max: 4096,
        };
        assert_eq!(
            e.to_string(),
            "a dynamic table size update to 9000 exceeds our limit of 4096"
        );
        assert_eq!(
            DecodeError::InvalidHuffman(HuffmanError::Eos).to_string(),
            "invalid Huffman code: the EOS symbol appears inside the string"
        );
    }
}
