"""governance: spot checks, follow-ups, incidents, conversation reviews, holder notices

Revision ID: 2f6311f819bd
Revises: 243bae050813
Create Date: 2026-12-01 21:50:04.504749

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2f6311f819bd'
down_revision = '243bae050813'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('spot_check_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('rate_percent', sa.Integer(), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('drawn_by_id', sa.Integer(), nullable=False),
    sa.Column('drawn_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['drawn_by_id'], ['users.id'], name=op.f('fk_spot_check_samples_drawn_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_spot_check_samples_team_id_teams'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spot_check_samples')),
    sa.UniqueConstraint('team_id', 'period', name='uq_spot_check_samples_team_period')
    )
    op.create_table('conversation_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('staff_member_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('findings', sa.Integer(), nullable=False),
    sa.Column('counts', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=True),
    sa.Column('outcome_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notes', sa.String(length=2000), nullable=True),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('no_concerns', 'discussed_with_staff', 'incident_reported')", name=op.f('ck_conversation_reviews_outcome_known')),
    sa.CheckConstraint('(outcome IS NULL) = (outcome_at IS NULL)', name=op.f('ck_conversation_reviews_outcome_has_time')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_conversation_reviews_device_id_devices'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_conversation_reviews_reviewed_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['staff_member_id'], ['staff_members.id'], name=op.f('fk_conversation_reviews_staff_member_id_staff_members'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_conversation_reviews_team_id_teams'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_reviews'))
    )
    with op.batch_alter_table('conversation_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_reviews_team_id'), ['team_id'], unique=False)

    op.create_table('holder_notices',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('staff_member_id', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_holder_notices_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_member_id'], ['staff_members.id'], name=op.f('fk_holder_notices_staff_member_id_staff_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', 'rule', 'failing_since', name=op.f('pk_holder_notices'))
    )
    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('occurred_time', sa.String(length=5), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('staff_member_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('reported_by_id', sa.Integer(), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('mailbox_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('phone_suspended', sa.Boolean(), nullable=False),
    sa.CheckConstraint("kind <> 'lost_or_stolen' OR device_id IS NOT NULL", name=op.f('ck_incidents_lost_phone_named')),
    sa.CheckConstraint("kind IN ('lost_or_stolen', 'personal_data_sent', 'wrong_recipient', 'unapproved_app', 'other')", name=op.f('ck_incidents_kind_known')),
    sa.CheckConstraint("status IN ('reported', 'acknowledged', 'closed')", name=op.f('ck_incidents_status_known')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_incidents_device_id_devices'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_incidents_reported_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_incidents_service_id_services'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['staff_member_id'], ['staff_members.id'], name=op.f('fk_incidents_staff_member_id_staff_members'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_incidents_team_id_teams'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_reported_by_id'), ['reported_by_id'], unique=False)
        batch_op.create_index('ix_incidents_team_status', ['team_id', 'status'], unique=False)

    op.create_table('spot_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('staff_member_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('sample_id', sa.Integer(), nullable=True),
    sa.Column('started_by_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('bring_by', sa.Date(), nullable=False),
    sa.Column('holder_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('evidence_recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('notes', sa.String(length=2000), nullable=True),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('no_concerns', 'follow_up', 'incident')", name=op.f('ck_spot_checks_outcome_known')),
    sa.CheckConstraint("role IN ('individual', 'broadcast')", name=op.f('ck_spot_checks_role_known')),
    sa.CheckConstraint("status <> 'completed' OR (completed_at IS NOT NULL AND outcome IS NOT NULL)", name=op.f('ck_spot_checks_completed_has_outcome')),
    sa.CheckConstraint("status IN ('requested', 'evidence_recorded', 'completed')", name=op.f('ck_spot_checks_status_known')),
    sa.ForeignKeyConstraint(['completed_by_id'], ['users.id'], name=op.f('fk_spot_checks_completed_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_spot_checks_device_id_devices'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['sample_id'], ['spot_check_samples.id'], name=op.f('fk_spot_checks_sample_id_spot_check_samples'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_spot_checks_service_id_services'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['staff_member_id'], ['staff_members.id'], name=op.f('fk_spot_checks_staff_member_id_staff_members'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], name=op.f('fk_spot_checks_started_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_spot_checks_team_id_teams'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spot_checks'))
    )
    with op.batch_alter_table('spot_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spot_checks_device_id'), ['device_id'], unique=False)
        batch_op.create_index('ix_spot_checks_team_status', ['team_id', 'status'], unique=False)
        batch_op.create_index('uq_spot_check_one_open_per_device', ['device_id'], unique=True, sqlite_where=sa.text("status <> 'completed'"), postgresql_where=sa.text("status <> 'completed'"))

    op.create_table('follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('spot_check_id', sa.Integer(), nullable=True),
    sa.Column('review_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=500), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('(done_at IS NULL) = (done_by_id IS NULL)', name=op.f('ck_follow_ups_done_has_who')),
    sa.CheckConstraint('(spot_check_id IS NULL) <> (review_id IS NULL)', name=op.f('ck_follow_ups_one_origin')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_follow_ups_created_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_follow_ups_done_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['review_id'], ['conversation_reviews.id'], name=op.f('fk_follow_ups_review_id_conversation_reviews'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_follow_ups_service_id_services'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['spot_check_id'], ['spot_checks.id'], name=op.f('fk_follow_ups_spot_check_id_spot_checks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_follow_ups_team_id_teams'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups'))
    )
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index('ix_follow_ups_open_due', ['due_on'], unique=False, sqlite_where=sa.text('done_at IS NULL'), postgresql_where=sa.text('done_at IS NULL'))
        batch_op.create_index(batch_op.f('ix_follow_ups_review_id'), ['review_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_ups_spot_check_id'), ['spot_check_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_ups_team_id'), ['team_id'], unique=False)

    op.create_table('incident_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('status_from', sa.String(length=16), nullable=False),
    sa.Column('status_to', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_incident_notes_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_notes_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_notes'))
    )
    with op.batch_alter_table('incident_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_notes_incident_id'), ['incident_id'], unique=False)

    op.create_table('spot_check_answers',
    sa.Column('spot_check_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=40), nullable=False),
    sa.Column('answer', sa.String(length=16), nullable=False),
    sa.CheckConstraint("answer IN ('yes', 'no', 'not_applicable')", name=op.f('ck_spot_check_answers_answer_known')),
    sa.ForeignKeyConstraint(['spot_check_id'], ['spot_checks.id'], name=op.f('fk_spot_check_answers_spot_check_id_spot_checks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('spot_check_id', 'item', name=op.f('pk_spot_check_answers'))
    )


def downgrade():
    op.drop_table('spot_check_answers')
    with op.batch_alter_table('incident_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_notes_incident_id'))

    op.drop_table('incident_notes')
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_ups_team_id'))
        batch_op.drop_index(batch_op.f('ix_follow_ups_spot_check_id'))
        batch_op.drop_index(batch_op.f('ix_follow_ups_review_id'))
        batch_op.drop_index('ix_follow_ups_open_due', sqlite_where=sa.text('done_at IS NULL'), postgresql_where=sa.text('done_at IS NULL'))

    op.drop_table('follow_ups')
    with op.batch_alter_table('spot_checks', schema=None) as batch_op:
        batch_op.drop_index('uq_spot_check_one_open_per_device', sqlite_where=sa.text("status <> 'completed'"), postgresql_where=sa.text("status <> 'completed'"))
        batch_op.drop_index('ix_spot_checks_team_status')
        batch_op.drop_index(batch_op.f('ix_spot_checks_device_id'))

    op.drop_table('spot_checks')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_team_status')
        batch_op.drop_index(batch_op.f('ix_incidents_reported_by_id'))
        batch_op.drop_index(batch_op.f('ix_incidents_device_id'))

    op.drop_table('incidents')
    op.drop_table('holder_notices')
    with op.batch_alter_table('conversation_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_reviews_team_id'))

    op.drop_table('conversation_reviews')
    op.drop_table('spot_check_samples')
