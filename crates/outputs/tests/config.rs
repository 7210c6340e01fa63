//! The output keys read from a falco.yaml-style document, as
//! `saker_config::Config::section` hands them over.

use saker_outputs::{OutputsConfig, Priority};

#[test]
fn falco_yaml_keys_deserialize() {
    let yaml = r#"
rules_files: [/etc/falco/falco_rules.yaml]
priority: warning
json_output: true
json_include_output_property: false
json_include_tags_property: true
json_include_message_property: true
json_include_output_fields_property: false
time_format_iso_8601: true
buffered_outputs: true
output_timeout: 500
outputs_queue:
  capacity: 10
stdout_output:
  enabled: true
syslog_output:
  enabled: true
file_output:
  enabled: true
  keep_alive: true
  filename: ./events.txt
http_output:
  enabled: true
  url: http://falcosidekick:2801/
  user_agent: "falcosecurity/falco"
  insecure: true
  ca_cert: ""
  ca_bundle: ""
  ca_path: "/etc/ssl/certs"
  mtls: false
  client_cert: "/etc/ssl/certs/client.crt"
  client_key: "/etc/ssl/certs/client.key"
  echo: false
  compress_uploads: false
  keep_alive: false
  max_consecutive_timeouts: 3
program_output:
  enabled: true
  keep_alive: false
  program: "jq '{text: .output}' | cat"
nats_output:
  enabled: true
  url: nats://127.0.0.1:4222
  subject: fleet.alerts
  stream: FLEET
webserver:
  enabled: true
"#;
    let c: OutputsConfig = yaml_serde::from_str(yaml).unwrap();
    assert_eq!(c.priority, Priority::Warning);
    assert!(c.json_output && !c.json_include_output_property && c.json_include_message_property);
    assert!(!c.json_include_output_fields_property && c.time_format_iso_8601 && c.buffered_outputs);
    assert_eq!((c.output_timeout, c.outputs_queue.capacity), (500, 10));
    assert!(c.stdout_output.enabled && c.syslog_output.enabled);
    assert_eq!(c.syslog_output.socket, "/dev/log");
    assert!(c.file_output.keep_alive);
    assert_eq!(c.file_output.filename, "./events.txt");
    assert_eq!(c.http_output.user_agent, "falcosecurity/falco");
    assert!(c.http_output.insecure);
    assert_eq!(c.http_output.max_consecutive_timeouts, 3);
    assert_eq!(c.program_output.program, "jq '{text: .output}' | cat");
    assert_eq!((c.nats_output.subject.as_str(), c.nats_output.stream.as_str()), ("fleet.alerts", "FLEET"));

    // Absent keys: Falco's values when a key is absent.
    let d: OutputsConfig = yaml_serde::from_str("{}").unwrap();
    assert_eq!(d, OutputsConfig::default());
    assert_eq!(d.priority, Priority::Debug);
    assert!(d.json_include_output_property && d.json_include_tags_property && d.json_include_output_fields_property);
    assert!(!d.json_include_message_property && !d.stdout_output.enabled);
    assert_eq!((d.output_timeout, d.http_output.max_consecutive_timeouts), (2000, 5));
}

#[test]
fn priorities_parse_as_falco_spells_them() {
    for (s, p) in [
        ("EMERGENCY", Priority::Emergency),
        ("info", Priority::Informational),
        ("Informational", Priority::Informational),
    ] {
        assert_eq!(s.parse::<Priority>().unwrap(), p);
    }
    let e = yaml_serde::from_str::<OutputsConfig>("priority: loud").unwrap_err();
    assert!(e.to_string().contains("unknown priority \"loud\""), "{e}");
    assert!(Priority::Critical.at_least(Priority::Warning));
    assert!(!Priority::Debug.at_least(Priority::Warning));
    assert_eq!(
        Priority::ALL.map(|p| p.as_str()).join(","),
        "Emergency,Alert,Critical,Error,Warning,Notice,Informational,Debug"
    );
}

#[test]
fn alerts_below_the_minimum_priority_are_not_emitted() {
    let dir = std::env::temp_dir().join(format!("saker-outputs-prio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.txt");
    let mut cfg = OutputsConfig { priority: Priority::Error, ..OutputsConfig::default() };
    cfg.file_output.enabled = true;
    cfg.file_output.filename = file.to_string_lossy().into();
    let outputs = saker_outputs::Outputs::new(&cfg).unwrap();
    let mut a = saker_outputs::Alert {
        time_ns: 0,
        rule: "r".into(),
        priority: Priority::Warning,
        source: "syscall".into(),
        tags: vec![],
        hostname: "h".into(),
        output: "o".into(),
        output_fields: vec![],
    };
    assert_eq!(outputs.emit(&a), 0);
    a.priority = Priority::Critical;
    assert_eq!(outputs.emit(&a), 1);
    outputs.shutdown(std::time::Duration::from_secs(5));
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains(": Critical o"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn outputs_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<saker_outputs::Outputs>();
    shared::<saker_outputs::Encoder>();
}
