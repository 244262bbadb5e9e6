//! The audit log.

use super::*;

contract!(audit_events_page_newest_first,);

async fn audit_events_page_newest_first(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    for i in 0..5 {
        s.insert_audit(&AuditEvent {
            id: format!("evt_{}", ulid(T0 + i)),
            tenant_id: u.tenant_id.clone(),
            user_id: (i % 2 == 0).then(|| u.id.clone()),
            actor: "system".into(),
            action: format!("a{i}"),
            factor_id: None,
            outcome: "success".into(),
            ip: Some("127.0.0.1".into()),
            detail: None,
            created_at: T0 + i,
            fan_out: true,
        })
        .await
        .unwrap();
    }
    let page = s.list_audit(&u.tenant_id, None, None, 3).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["a4", "a3", "a2"]
    );
    let rest = s
        .list_audit(&u.tenant_id, None, Some(&page[2].id), 3)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["a1", "a0"]
    );
    let mine = s.list_audit(&u.tenant_id, Some(&u.id), None, 10).await.unwrap();
    assert_eq!(mine.len(), 3);
    let other = tenant("o");
    s.insert_tenant(&other).await.unwrap();
    assert!(s.list_audit(&other.id, None, None, 10).await.unwrap().is_empty());
}
