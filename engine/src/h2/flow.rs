//! Flow-control windows (RFC 9113 §5.2, §6.9).

use super::frame::DEFAULT_MAX_FRAME_SIZE;

/// The largest legal window, 2^31-1.
pub(crate) const MAX_WINDOW: i64 = (1 << 31) - 1;

/// The initial window of every stream and of the connection before SETTINGS.
pub(crate) const DEFAULT_WINDOW: u32 = 65_535;

const _: () = assert!(DEFAULT_MAX_FRAME_SIZE as i64 <= MAX_WINDOW);

/// Credit we have to send. Signed: a SETTINGS_INITIAL_WINDOW_SIZE decrease can
/// push it below zero (RFC 9113 §6.9.2).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendWindow(i64);

/// The window would exceed 2^31-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

impl SendWindow {
    pub(crate) fn new(size: u32) -> Self {
        SendWindow(i64::from(size))
    }

    /// Octets that may be sent now.
    pub(crate) fn available(self) -> u32 {
        self.0.clamp(0, MAX_WINDOW) as u32
    }

    pub(crate) fn consume(&mut self, n: u32) {
        self.0 -= i64::from(n);
    }

    /// A WINDOW_UPDATE arrived.
    pub(crate) fn increase(&mut self, increment: u32) -> Result<(), Overflow> {
        self.apply_delta(i64::from(increment))
    }

    /// SETTINGS_INITIAL_WINDOW_SIZE changed by `delta`.
    pub(crate) fn apply_delta(&mut self, delta: i64) -> Result<(), Overflow> {
        let next = self.0 + delta;
        if next > MAX_WINDOW {
            return Err(Overflow);
        }
        self.0 = next;
        Ok(())
    }
}

/// Credit we gave the peer, and data the application has consumed but we have
/// not yet announced. Windows re-open only as the application releases data, so a
/// slow consumer slows its peer instead of growing our memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecvWindow {
    /// What the peer may still send.
    window: i64,
    /// Released by the application, not yet announced in a WINDOW_UPDATE.
    released: u32,
    /// The window we aim to keep open; updates are batched at a quarter of it.
    target: u32,
}

/// The peer sent more than its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exceeded {
    pub(crate) window: i64,
}

impl RecvWindow {
    /// A window the peer believes to be `initial`, which we want to be `target`.
    pub(crate) fn new(initial: u32, target: u32) -> Self {
        RecvWindow {
            window: i64::from(initial),
            released: 0,
            target,
        }
    }

    /// Accounts for `len` flow-controlled octets received.
    pub(crate) fn receive(&mut self, len: u32) -> Result<(), Exceeded> {
        if i64::from(len) > self.window {
            return Err(Exceeded {
                window: self.window,
            });
        }
        self.window -= i64::from(len);
        Ok(())
    }

    /// The application consumed `n` octets. Returns the increment to announce
    /// once a quarter of the target window has built up: whatever the application still
    /// holds plus the open window make up the target, so a peer can only stall on
    /// data the application has not released.
    pub(crate) fn release(&mut self, n: u32) -> Option<u32> {
        self.released = self.released.saturating_add(n);
        self.take_update()
    }

    /// Our own SETTINGS_INITIAL_WINDOW_SIZE took effect with `delta`.
    pub(crate) fn apply_delta(&mut self, delta: i64, target: u32) {
        self.window += delta;
        self.target = target;
    }

    /// Moves the target (used once, to open the connection window beyond 65 535).
    pub(crate) fn grow_to(&mut self, target: u32) -> Option<u32> {
        let increment = i64::from(target) - self.window;
        self.target = target;
        if increment <= 0 {
            return None;
        }
        self.window += increment;
        Some(increment as u32)
    }

    /// Raises the target to `target` and opens the window by the difference
    /// (the BDP estimate grew). Returns that increment.
    pub(crate) fn raise_target(&mut self, target: u32) -> Option<u32> {
        let increment = i64::from(target) - i64::from(self.target);
        let increment = increment.min((MAX_WINDOW - self.window).max(0));
        if increment <= 0 {
            return None;
        }
        self.target = target;
        self.window += increment;
        Some(increment as u32)
    }

    /// Announces whatever the application released, however little.
    pub(crate) fn take_pending(&mut self) -> Option<u32> {
        let room = (MAX_WINDOW - self.window).max(0);
        let increment = i64::from(self.released).min(room);
        if increment == 0 {
            return None;
        }
        self.window += increment;
        self.released -= increment as u32;
        Some(increment as u32)
    }

    fn take_update(&mut self) -> Option<u32> {
        let room = (MAX_WINDOW - self.window).max(0);
        let increment = i64::from(self.released).min(room);
        if increment == 0 {
            return None;
        }
        // grpc-go's `limit/4` (`inFlow.onRead`, `trInFlow.onData`). At half,
        // a window-bound sender moves only W/2..W per round trip, and a BDP
        // estimate, which grows on samples of at least 0.66 W, stalls near
        // the link's BDP instead of the 2× that fills it.
        let threshold = i64::from(self.target / 4).max(1);
        if increment >= threshold {
            self.window += increment;
            self.released -= increment as u32;
            return Some(increment as u32);
        }
        None
    }

    /// What the peer may still send.
    #[cfg(test)]
    pub(crate) fn window(&self) -> i64 {
        self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_window_overflow_is_an_error() {
        let mut w = SendWindow::new(DEFAULT_WINDOW);
        assert_eq!(w.increase((MAX_WINDOW - 65_535) as u32), Ok(()));
        assert_eq!(w.increase(1), Err(Overflow));
        assert_eq!(w.available(), MAX_WINDOW as u32);
    }

    #[test]
    fn send_window_goes_negative_on_settings_decrease() {
        let mut w = SendWindow::new(3);
        w.consume(3);
        w.apply_delta(-1).unwrap();
        assert_eq!(w.available(), 0);
        w.increase(2).unwrap();
        assert_eq!(w.available(), 1);
    }

    #[test]
    fn recv_window_rejects_overrun() {
        let mut w = RecvWindow::new(10, 10);
        assert!(w.receive(10).is_ok());
        assert_eq!(w.receive(1), Err(Exceeded { window: 0 }));
    }

    #[test]
    fn updates_are_batched_at_a_quarter_of_the_target() {
        let mut w = RecvWindow::new(100, 100);
        w.receive(100).unwrap();
        assert_eq!(w.release(10), None);
        assert_eq!(w.release(14), None);
        assert_eq!(w.release(1), Some(25));
        assert_eq!(w.window(), 25);
        assert_eq!(w.release(75), Some(75));
        assert_eq!(w.window(), 100);
    }

    #[test]
    fn release_never_opens_past_the_maximum() {
        let mut w = RecvWindow::new(MAX_WINDOW as u32, MAX_WINDOW as u32);
        assert_eq!(w.release(u32::MAX), None);
        assert_eq!(w.window(), MAX_WINDOW);
    }
}
