"""participants.last_activity_at and users.username_key: lists and search as index ranges

- participants.last_activity_at copies its conversation's, so that a user's
  conversations, latest first, are one range of (user_id, last_activity_at,
  conversation_id) however many there are; conversations' own index goes.
- users.username_key is lower(username), compared byte by byte (collation "C"
  on PostgreSQL), so that a prefix search is a range of its unique index; it
  replaces the unique index on the expression lower(username).

Revision ID: 1982e2ef9d55
Revises: e6d09773a6b9
Create Date: 2026-11-26 23:30:55.077621

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1982e2ef9d55'
down_revision = 'e6d09773a6b9'
branch_labels = None
depends_on = None

BytewiseString = sa.String(length=150).with_variant(sa.String(length=150, collation='C'), 'postgresql')


def upgrade():
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_last_activity_at'))

    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE participants SET last_activity_at = "
        "(SELECT last_activity_at FROM conversations WHERE conversations.id = participants.conversation_id)"
    )
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.alter_column('last_activity_at', nullable=False)
        batch_op.drop_index(batch_op.f('ix_participants_user_id'))
        batch_op.create_index('ix_participants_user_activity', ['user_id', 'last_activity_at', 'conversation_id'], unique=False)

    # An expression index: dropped before the batch copy of the table (SQLite cannot reflect it).
    op.drop_index('ix_users_username_lower', table_name='users')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('username_key', BytewiseString, nullable=True))
    op.execute("UPDATE users SET username_key = lower(username)")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('username_key', existing_type=BytewiseString, nullable=False)
        batch_op.create_index(batch_op.f('ix_users_username_key'), ['username_key'], unique=True)


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_username_key'))
        batch_op.drop_column('username_key')
    op.create_index('ix_users_username_lower', 'users', [sa.literal_column('lower(username)')], unique=True)

    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_index('ix_participants_user_activity')
        batch_op.create_index(batch_op.f('ix_participants_user_id'), ['user_id'], unique=False)
        batch_op.drop_column('last_activity_at')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversations_last_activity_at'), ['last_activity_at'], unique=False)
