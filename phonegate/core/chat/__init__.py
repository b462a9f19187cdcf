"""The WhatsApp chat-export review aid: read an export (export_file), parse its messages (messages), find
personal data (detectors, scan, redact), and write a transcript for the case record (transcript, transcript_pdf)."""
