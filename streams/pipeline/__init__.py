"""The Kafka side: the Faust app that wires the stages, the stages and their feeds, the broker and topics."""
