//! Test contract exercising every chaincode API call (being written).
