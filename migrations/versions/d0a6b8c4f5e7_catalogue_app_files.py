"""catalogue entries have files: a single APK, or an APK set (a base and its splits)

Revision ID: d0a6b8c4f5e7
Revises: a7d3e5f1c2b4
Create Date: 2026-12-08 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd0a6b8c4f5e7'
down_revision = 'a7d3e5f1c2b4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('catalogue_app_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('catalogue_app_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('split_name', sa.String(length=255), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['catalogue_app_id'], ['catalogue_apps.id'], name=op.f('fk_catalogue_app_files_catalogue_app_id_catalogue_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_app_files')),
    sa.UniqueConstraint('catalogue_app_id', 'name', name='uq_catalogue_app_files_name'),
    sa.UniqueConstraint('catalogue_app_id', 'position', name='uq_catalogue_app_files_position')
    )
    with op.batch_alter_table('catalogue_app_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_app_files_catalogue_app_id'), ['catalogue_app_id'], unique=False)
    # Every entry so far is one APK: it becomes its own base file, with the same SHA-256, size and stored file.
    op.execute("INSERT INTO catalogue_app_files (catalogue_app_id, position, name, split_name, sha256, size, filename) "
               "SELECT id, 0, 'base.apk', NULL, sha256, size, filename FROM catalogue_apps")


def downgrade():
    # Without its splits a set's base would install a broken app: sets are taken out of use, not served half.
    op.execute("UPDATE catalogue_apps SET active = false WHERE id IN "
               "(SELECT catalogue_app_id FROM catalogue_app_files WHERE position > 0)")
    with op.batch_alter_table('catalogue_app_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_app_files_catalogue_app_id'))
    op.drop_table('catalogue_app_files')
