//! Test contract that misbehaves: loops, grows memory, writes huge values, traps, panics (being written).
